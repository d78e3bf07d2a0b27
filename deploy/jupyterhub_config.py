# JupyterHub on one server for a class: every student gets a container of the course image
# (the Binder image, built from binder/ by repo2docker) with a persistent folder ~/work.
#
#   pip install jupyterhub==5.* dockerspawner oauthenticator   # the hub; Docker on the host
#   repo2docker --no-run --user-id 1000 --user-name jovyan --image-name trainlab:2026.12 .
#   jupyterhub -f deploy/jupyterhub_config.py
#
# Limits from the measured figures (README, "Running a class"): a lesson's kernel peaks at
# 0.43-1.15 GB (03 is the largest) and uses one core while it computes (torch one thread).
# A student with two lessons open and the server process fits in 2.5 GB; one core caps a
# runaway loop without slowing a lesson. The image is the same one the Kubernetes values file
# (deploy/z2jh-values.yaml) uses.
import os

c = get_config()  # noqa: F821 (provided by JupyterHub)

c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = os.environ.get("TRAINLAB_IMAGE", "trainlab:2026.12")
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.default_url = "/lab/tree/work/trainlab/00_welcome.ipynb"
c.DockerSpawner.remove = True  # containers are disposable; the volume keeps the work
c.DockerSpawner.network_name = os.environ.get("DOCKER_NETWORK_NAME", "jupyterhub")
c.JupyterHub.hub_ip = "0.0.0.0"  # reachable from the containers on that network
# The student's own folder, kept between sessions; binder/start copies the student notebooks
# into ~/work/trainlab/ the first time (never over a student's file). The image's course files
# stay at /home/jovyan (the volume is mounted below it, not over it).
c.DockerSpawner.volumes = {"trainlab-user-{username}": "/home/jovyan/work"}
c.DockerSpawner.notebook_dir = "/home/jovyan"

c.DockerSpawner.mem_limit = "2.5G"
c.DockerSpawner.cpu_limit = 1.0
c.JupyterHub.concurrent_spawn_limit = 20  # a class logging in at once

# Log in with the university's accounts, e.g. GitHub or a generic OAuth provider:
#   c.JupyterHub.authenticator_class = "oauthenticator.GenericOAuthenticator"
# For a trial: every user name works with one shared password.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("TRAINLAB_HUB_PASSWORD", "change-me")
c.Authenticator.admin_users = {"lecturer"}
c.Authenticator.allow_all = True

# Stop idle servers (frees their memory for the next class): pip install jupyterhub-idle-culler
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": ["python3", "-m", "jupyterhub_idle_culler", "--timeout=3600"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler", "services": ["idle-culler"],
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
}]
