from setuptools import find_packages, setup

PACKAGE = 'humanoid_control'

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
        'Whole-body controller node: IK, balance, walking, grippers; motion action servers.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'whole_body_controller = humanoid_control.whole_body_controller_node:main',
        ],
    },
)
