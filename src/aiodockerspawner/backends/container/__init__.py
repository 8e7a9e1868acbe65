"""Plain containers: the create body, images and volumes they need, and the backend."""
