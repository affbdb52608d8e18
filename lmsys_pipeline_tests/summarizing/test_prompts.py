from lmsys_pipeline.labeling.answers import prompt_hash, request_body
from lmsys_pipeline.labeling.bounds import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from lmsys_pipeline.labeling.providers import resolve_endpoint
from lmsys_pipeline.summarizing.params import PROMPT_VERSION, SummaryParams
from lmsys_pipeline.summarizing.prompts import RESPONSE_FORMAT, build_messages
from lmsys_pipeline.summarizing.selection import ClusterBrief
from lmsys_pipeline_tests.support.openai_server import strict_schema_fault

BRIEF = ClusterBrief(
    3,
    120,
    ["How do I reset my PIN?", "Change card PIN"],
    [11, 12],
    {5: ["Where is my card?"], 7: ["Top up by bank transfer"]},
)


def summary_request(brief: ClusterBrief, params: SummaryParams) -> dict:
    return request_body("m", build_messages(brief), params, RESPONSE_FORMAT)


def test_the_prompt_ends_with_a_user_message_holding_queries_and_neighbours():
    messages = build_messages(BRIEF)
    assert messages[-1]["role"] == "user"
    text = messages[-1]["content"]
    assert "1. How do I reset my PIN?" in text and "120 user queries" in text
    assert "Neighbouring cluster 1:\n1. Where is my card?" in text
    assert "various" in text  # the ban is spelled out to the model


def test_the_request_asks_for_the_json_schema_and_the_hash_keys_the_exact_request():
    params = SummaryParams(model="openai/m")
    body = summary_request(BRIEF, params)
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["title", "description"]
    server = "http://gpu-box:8000/v1"

    def key(model: str, request: dict) -> str:
        return prompt_hash(model, request, PROMPT_VERSION, server=server)

    same = key("openai/m", summary_request(BRIEF, params))
    assert key("openai/m", body) == same
    assert key("vllm/m", body) != same
    other = ClusterBrief(3, 120, ["Change card PIN"], [12])
    assert key("openai/m", summary_request(other, params)) != same
    hotter = params.model_copy(update={"temperature": 0.7})
    assert key("openai/m", summary_request(BRIEF, hotter)) != same


def test_the_server_is_part_of_the_key_without_its_credentials():
    """Item 9 of issue 27: one model name on two servers is two sources of answers; the same
    server written with a key in its URL, a query or a trailing slash is one."""
    body = summary_request(BRIEF, SummaryParams(model="openai/m"))
    here = resolve_endpoint("openai/m", "http://127.0.0.1:8000/v1")
    there = resolve_endpoint("openai/m", "http://127.0.0.1:9000/v1")
    assert prompt_hash("openai/m", body, PROMPT_VERSION, server=here.server) != prompt_hash(
        "openai/m", body, PROMPT_VERSION, server=there.server
    )
    for spelled in (
        "http://user:s3cret@127.0.0.1:8000/v1/",
        "HTTP://127.0.0.1:8000/v1?api_key=s3cret#x",
    ):
        assert resolve_endpoint("openai/m", spelled).server == "http://127.0.0.1:8000/v1"
    assert resolve_endpoint("openai/m", None, api_key="k").server == "https://api.openai.com/v1"


def test_the_schema_states_the_bounds_in_words_that_strict_mode_accepts():
    body = summary_request(BRIEF, SummaryParams())
    fields = body["response_format"]["json_schema"]["schema"]["properties"]
    assert f"{MAX_TITLE_CHARS} characters" in fields["title"]["description"]
    assert f"{MAX_DESCRIPTION_CHARS:,} characters" in fields["description"]["description"]
    assert strict_schema_fault(body) is None  # OpenAI refuses maxLength in strict mode


def test_v2_prompts_tell_the_model_to_leave_out_identifiers():
    """Summary and hierarchy prompts carry the privacy instruction under new versions (a run
    made with v1 keeps its version in the ledger and is not resumed with the new wording)."""
    from lmsys_pipeline.hierarchy import params as hierarchy_params
    from lmsys_pipeline.hierarchy.prompts import Member, propose_messages, rename_messages

    assert PROMPT_VERSION == "cluster-summary-v2"
    assert hierarchy_params.PROMPT_VERSION == "cluster-hierarchy-v2"
    members = [Member("Card PIN resets", "Users reset PINs.", 40)]
    for messages in (
        build_messages(BRIEF),
        propose_messages(members, [], 2),
        rename_messages("PINs", members),
    ):
        assert "e-mail or postal addresses, phone numbers" in messages[0]["content"]
        assert "no names of private people" in messages[0]["content"]
