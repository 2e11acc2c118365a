"""Safety supervisor node between the controller and the hardware."""
