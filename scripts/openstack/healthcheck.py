#!/usr/bin/python3
"""Checks the imagefleet Keystone + Glance rig the way the tests use it.

  healthcheck.py quick   a fleet-a token and an image list (the already-running case)
  healthcheck.py full    also: fleet-a's roles, an upload with the openstack CLI,
                         an image shared with fleet-b, a web-download import from
                         127.0.0.1:18089 and a live reload of Glance's policy file

Exits non-zero with the failing step on stderr. Images it makes are deleted.
Run with Debian's python3: the OpenStack libraries are Debian packages.
"""
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

import yaml
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

ETC = '/etc/imagefleet/openstack'
CLOUDS = os.path.join(ETC, 'clouds.yaml')
POLICY = '/etc/glance/policy.yaml'
# Glance allows web-download from 127.0.0.1 on these ports; the tests serve on
# 18089, so while one does, the check uses 80.
WEB_DOWNLOAD_PORTS = (18089, 80)
PAYLOAD = b'imagefleet health check\n'


class Glance:
    """One cloud's session and its Glance endpoint, found in the catalog."""

    def __init__(self, cloud):
        a = cloud['auth']
        self.s = ks_session.Session(auth=v3.Password(
            auth_url=a['auth_url'], username=a['username'],
            password=a['password'], project_name=a['project_name'],
            user_domain_name=a['user_domain_name'],
            project_domain_name=a['project_domain_name']),
            timeout=30)
        self.project = self.s.get_project_id()
        self.url = self.s.get_endpoint(
            service_type='image', interface=cloud['interface'],
            region_name=cloud['region_name']).rstrip('/') + '/v2'

    def create(self, name):
        return self.s.post(self.url + '/images', json={
            'name': name, 'disk_format': 'raw', 'container_format': 'bare',
            'visibility': 'shared'}).json()['id']

    def image(self, image_id):
        return self.s.get('%s/images/%s' % (self.url, image_id)).json()

    def delete(self, image_id):
        self.s.delete('%s/images/%s' % (self.url, image_id), raise_exc=False)

    def wait_active(self, image_id, seconds=60):
        deadline = time.monotonic() + seconds
        while True:
            image = self.image(image_id)
            if image['status'] == 'active':
                return image
            if time.monotonic() > deadline:
                raise RuntimeError('image %s is %s after %ds: %s'
                                   % (image_id, image['status'], seconds, image))
            time.sleep(0.2)


def member_not_admin(a):
    roles = a.s.auth.get_access(a.s).role_names
    if 'member' not in roles or 'admin' in roles:
        raise RuntimeError('fleet-a has the roles %s' % roles)


def cli_upload(images):
    """The tests' clouds.yaml works for the CLI; the CLI prints the image as it
    was before the upload (queued), so the status is read back from the API."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(PAYLOAD)
        f.flush()
        image_id = subprocess.run(
            ['openstack', '--os-cloud', 'imagefleet-a', 'image', 'create',
             '--file', f.name, '--disk-format', 'raw',
             '--container-format', 'bare', 'imagefleet-healthcheck-cli',
             '-f', 'value', '-c', 'id'],
            env=dict(os.environ, OS_CLIENT_CONFIG_FILE=CLOUDS),
            capture_output=True, text=True, check=True).stdout.strip()
    images.append(image_id)
    image = images.owner.wait_active(image_id, seconds=5)
    if image['size'] != len(PAYLOAD):
        raise RuntimeError('uploaded %d bytes, image has %s'
                           % (len(PAYLOAD), image['size']))


def share(images, b):
    image_id = images.owner.create('imagefleet-healthcheck-shared')
    images.append(image_id)
    a = images.owner
    a.s.post('%s/images/%s/members' % (a.url, image_id),
             json={'member': b.project})
    b.s.put('%s/images/%s/members/%s' % (b.url, image_id, b.project),
            json={'status': 'accepted'})
    if b.image(image_id)['owner'] != a.project:
        raise RuntimeError('fleet-b does not see fleet-a as the shared image owner')


class Payload(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Length', str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


def payload_server():
    for port in WEB_DOWNLOAD_PORTS:
        try:
            return http.server.ThreadingHTTPServer(('127.0.0.1', port), Payload)
        except OSError as e:
            busy = e
    raise busy


def web_download(images):
    """Returns the active image, which the policy check deactivates."""
    server = payload_server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        a = images.owner
        image_id = a.create('imagefleet-healthcheck-web')
        images.append(image_id)
        a.s.post('%s/images/%s/import' % (a.url, image_id), json={'method': {
            'name': 'web-download',
            'uri': 'http://127.0.0.1:%d/image.raw' % server.server_port}})
        return a.wait_active(image_id)['id']
    finally:
        server.shutdown()
        server.server_close()


def policy_reload(images, image_id):
    """A rule added to the policy file refuses at once, and the rule written
    back to its default allows again. Deleting the line would not: Glance merges
    the file into the rules it holds, so a deleted rule stays in force."""
    a = images.owner
    url = '%s/images/%s/actions/deactivate' % (a.url, image_id)
    with open(POLICY) as f:
        before = f.read()
    try:
        with open(POLICY, 'a') as f:
            f.write('\n"deactivate": "role:admin"\n')
        refused = a.s.post(url, raise_exc=False).status_code
        with open(POLICY, 'w') as f:
            f.write(before + '\n"deactivate": "rule:default"\n')
        allowed = a.s.post(url, raise_exc=False).status_code
    finally:
        with open(POLICY, 'w') as f:
            f.write(before)
    if (refused, allowed) != (403, 204):
        raise RuntimeError('deactivate gave %d under "role:admin" and %d under '
                           '"rule:default", not 403 and 204' % (refused, allowed))


class Images(list):
    """Ids of the images made, all deleted at the end."""

    def __init__(self, owner):
        super().__init__()
        self.owner = owner

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for image_id in self:
            self.owner.delete(image_id)


def main():
    mode = sys.argv[1:]
    if mode not in (['quick'], ['full']):
        sys.exit('usage: healthcheck.py quick|full')
    with open(CLOUDS) as f:
        clouds = yaml.safe_load(f)['clouds']
    a = Glance(clouds['imagefleet-a'])
    a.s.get(a.url + '/images', params={'limit': 1})
    if mode == ['quick']:
        return
    b = Glance(clouds['imagefleet-b'])
    with Images(a) as images:
        steps = (
            ('fleet-a is a member, not an admin', lambda: member_not_admin(a)),
            ('upload with the openstack CLI', lambda: cli_upload(images)),
            ('image shared with fleet-b', lambda: share(images, b)),
            ('web-download import, then policy reload',
             lambda: policy_reload(images, web_download(images))),
        )
        for name, step in steps:
            try:
                step()
            except Exception as e:
                detail = getattr(e, 'stderr', None) or e
                sys.exit('health check failed: %s: %s' % (name, detail))


if __name__ == '__main__':
    main()
