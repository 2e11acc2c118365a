from setuptools import find_packages, setup

PACKAGE = 'humanoid_safety'

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
    description='Safety supervisor node between the controller and the hardware.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'safety_supervisor = humanoid_safety.safety_supervisor_node:main',
        ],
    },
)
