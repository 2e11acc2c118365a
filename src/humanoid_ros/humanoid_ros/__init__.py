"""ROS glue shared by the node packages (rclpy allowed here, unlike humanoid_core)."""
