"""The reference scale: SD 1.5 architecture and settings from the weights2weights paper."""
