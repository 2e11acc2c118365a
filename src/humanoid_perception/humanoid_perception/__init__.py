"""RGB-D object detection and world model nodes."""
