"""Hardware backends behind the contract topics: the embedded MuJoCo simulator node and real-robot
drivers.
"""
