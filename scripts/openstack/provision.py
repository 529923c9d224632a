#!/usr/bin/python3
"""Makes Keystone hold what the imagefleet tests expect; safe to run again.

  provision.py bootstrap   keystone-manage bootstrap (database only: Keystone may
                           still be starting)
  provision.py accounts    through Keystone's API: Glance's service user, the image
                           service and its endpoints, the projects and their users;
                           then writes ids.env for the tests

Reads the installed clouds.yaml (admin, and one member user per project) and
glance-api.conf (Glance's service user and address), so each credential is
written down once. Run with Debian's python3: the OpenStack libraries are Debian
packages.
"""
import configparser
import os
import subprocess
import sys

import yaml
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

ETC = '/etc/imagefleet/openstack'
KEYSTONE_CONF = os.path.join(ETC, 'keystone.conf')
INTERFACES = ('public', 'internal', 'admin')
# ids.env names the project of each cloud.
PROJECT_VARS = {
    'imagefleet-admin': 'ADMIN_PROJECT_ID',
    'imagefleet-a': 'FLEET_A_PROJECT_ID',
    'imagefleet-b': 'FLEET_B_PROJECT_ID',
}


def bootstrap(admin, region):
    """Admin user and project, the admin/member/reader roles, the region and
    Keystone's own endpoints. keystone-manage leaves what exists alone."""
    a = admin['auth']
    subprocess.run(
        ['keystone-manage', '--config-file', KEYSTONE_CONF, 'bootstrap',
         '--bootstrap-username', a['username'],
         '--bootstrap-password', a['password'],
         '--bootstrap-project-name', a['project_name'],
         '--bootstrap-role-name', 'admin',
         '--bootstrap-service-name', 'keystone',
         '--bootstrap-region-id', region]
        + [arg for i in INTERFACES
           for arg in ('--bootstrap-%s-url' % i, a['auth_url'])],
        check=True)


class Identity:
    def __init__(self, cloud):
        a = cloud['auth']
        self.url = a['auth_url'].rstrip('/')
        self.s = ks_session.Session(auth=v3.Password(
            auth_url=self.url, username=a['username'], password=a['password'],
            project_name=a['project_name'],
            user_domain_name=a['user_domain_name'],
            project_domain_name=a['project_domain_name']),
            timeout=30)

    def find(self, collection, **query):
        found = self.s.get('%s/%s' % (self.url, collection),
                           params=query).json()[collection]
        return found[0]['id'] if found else None

    def ensure(self, collection, body, **query):
        """The id of the first object matching query, created from body if none."""
        found = self.find(collection, **query)
        if found:
            return found
        kind = collection[:-1]
        return self.s.post('%s/%s' % (self.url, collection),
                           json={kind: body}).json()[kind]['id']

    def project(self, name):
        return self.ensure('projects', {'name': name, 'domain_id': 'default'},
                           name=name, domain_id='default')

    def user(self, name, password, project_id):
        return self.ensure('users', {'name': name, 'password': password,
                                     'domain_id': 'default',
                                     'default_project_id': project_id},
                           name=name, domain_id='default')

    def grant(self, project_id, user_id, role):
        role_id = self.find('roles', name=role)
        self.s.put('%s/projects/%s/users/%s/roles/%s'
                   % (self.url, project_id, user_id, role_id))

    def service(self, name, type_, url, region):
        service_id = self.ensure('services', {'name': name, 'type': type_},
                                 type=type_)
        for interface in INTERFACES:
            self.ensure('endpoints', {'service_id': service_id,
                                      'interface': interface, 'url': url,
                                      'region_id': region},
                        service_id=service_id, interface=interface)


def accounts(clouds, glance):
    admin = clouds['imagefleet-admin']
    region = admin['region_name']
    ks = Identity(admin)
    authtoken = glance['keystone_authtoken']
    service_project = ks.project(authtoken['project_name'])
    # keystonemiddleware validates the callers' tokens with this user's token.
    ks.grant(service_project,
             ks.user(authtoken['username'], authtoken['password'],
                     service_project), 'admin')
    ks.service('glance', 'image', 'http://%s:%s' % (
        glance['DEFAULT']['bind_host'], glance['DEFAULT']['bind_port']), region)

    ids = {}
    for name, cloud in clouds.items():
        a = cloud['auth']
        project = ks.project(a['project_name'])
        if name != 'imagefleet-admin':
            ks.grant(project, ks.user(a['username'], a['password'], project),
                     'member')
        ids[PROJECT_VARS[name]] = project

    tmp = os.path.join(ETC, 'ids.env.new')
    with open(tmp, 'w') as f:
        f.writelines('%s=%s\n' % kv for kv in sorted(ids.items()))
    os.replace(tmp, os.path.join(ETC, 'ids.env'))


def main():
    with open(os.path.join(ETC, 'clouds.yaml')) as f:
        clouds = yaml.safe_load(f)['clouds']
    if sys.argv[1:] == ['bootstrap']:
        admin = clouds['imagefleet-admin']
        bootstrap(admin, admin['region_name'])
    elif sys.argv[1:] == ['accounts']:
        glance = configparser.ConfigParser(interpolation=None)
        glance.read(os.path.join(ETC, 'glance-api.conf'))
        accounts(clouds, glance)
    else:
        sys.exit('usage: provision.py bootstrap|accounts')


if __name__ == '__main__':
    main()
