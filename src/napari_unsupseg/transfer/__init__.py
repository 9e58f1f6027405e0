"""Label transfer across domains by adversarial output-space adaptation (Tsai et al.
2018, "Learning to Adapt Structured Output Space for Semantic Segmentation")."""
