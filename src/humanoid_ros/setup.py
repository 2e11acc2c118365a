from setuptools import find_packages, setup

PACKAGE = 'humanoid_ros'

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
    description='ROS glue shared by the node packages: parameters, world/plan conversions.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={'console_scripts': []},
)
