"""The HTTP application: translates requests to ImageService calls and back."""
