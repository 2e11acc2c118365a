"""Whole-body controller node: IK, balance, walking, grippers; motion action servers."""
