"""The base text-to-image model: miniature latent diffusion or a pretrained SD 1.5."""
