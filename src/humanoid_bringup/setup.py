import os

from setuptools import find_packages, setup

PACKAGE = 'humanoid_bringup'


def tree(top: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing the workspace's top-level `top` folder (via the symlink in
    this package) under share/humanoid_bringup/`top`, keeping sub-folders."""
    entries = []
    for dirpath, _dirs, files in os.walk(top, followlinks=True):
        paths = [os.path.join(dirpath, f) for f in sorted(files) if not f.startswith('.')]
        if paths:
            entries.append((os.path.join('share', PACKAGE, dirpath), paths))
    return entries


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        *tree('launch'),
        *tree('config'),
        *tree('urdf'),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='Humanoid stack maintainers',
    maintainer_email='maintainers@humanoid-stack.invalid',
    description='Launch runner, the `humanoid` CLI, and the launch/config/urdf files.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'humanoid = humanoid_bringup.cli:main',
            'recorder = humanoid_bringup.record:recorder_main',
            'demo_talker = humanoid_bringup.demo_nodes:talker_main',
            'demo_listener = humanoid_bringup.demo_nodes:listener_main',
        ],
    },
)
