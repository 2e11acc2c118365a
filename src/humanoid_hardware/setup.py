from setuptools import find_packages, setup

PACKAGE = 'humanoid_hardware'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='Humanoid stack maintainers',
    maintainer_email='maintainers@humanoid-stack.invalid',
    description=(
        'Hardware backends behind the contract topics: the embedded MuJoCo simulator node '
        'and real-robot drivers.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'mujoco_sim = humanoid_hardware.mujoco_sim_node:main',
            'hardware = humanoid_hardware.hardware_node:main',
        ],
    },
)
