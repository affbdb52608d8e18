"""What is made from the stages' results for people and other tools: export files, the stored
hierarchy tree, the 2-D projection and the cluster maps (PNG, HTML)."""
