"""ROS-free core: kinematics, control, simulation, perception, planning, world model, safety
rules. No rclpy import anywhere in this package.
"""
