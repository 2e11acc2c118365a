"""Task planner node: the ExecuteTask action server and skill executor."""
