"""Task execution (ROS-free): the plan/approve/execute/re-plan state machine."""
