"""Moved to humanoid_ros.params (kept only until every node imports it from there)."""

from humanoid_ros.params import ParameterError, declare_parameters

__all__ = ['ParameterError', 'declare_parameters']
