"""MuJoCo simulation core (no rclpy): robot model, scenes, simulator."""
