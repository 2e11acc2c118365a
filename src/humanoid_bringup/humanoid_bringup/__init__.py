"""Launch runner for the XML launch files, the `humanoid` CLI, and the launch/, config/ and urdf/
files of the workspace.
"""
