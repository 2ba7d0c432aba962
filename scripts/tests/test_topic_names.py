"""Per-cluster Event Grid system topic names (infra/modules/cluster-events.bicep, var topicName).

topic_name() below is the derivation written in Python. The test evaluates the Bicep expression
itself (scripts/bicep_lite.py: the few functions it uses, uniqueString() by a stand-in with ARM's
output shape, 13 characters of [a-z2-7]) for awkward cluster ids and expects the same name, a
name valid for Event Grid system topics (3-50 alphanumerics and hyphens, alphanumeric at both
ends), the old `aks-cadence-<cluster>` name wherever that was valid, one name however the id is
cased, and different names for different clusters.
"""
import re
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'scripts'))
import bicep_lite as bl  # noqa: E402

MODULE = ROOT / 'infra' / 'modules' / 'cluster-events.bicep'
EVENT_GRID_NAME = re.compile(r'[A-Za-z0-9](?:[A-Za-z0-9-]{1,48})[A-Za-z0-9]')  # 3-50
AKS_NAME = re.compile(r'^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$')

# Names valid for AKS; in one resource group (names are case-insensitive, so no two differ only by case).
AWKWARD = [
    'a', '0', 'A1', 'aks', 'my_cluster', 'my-cluster', 'My_Cluster_2', 'MixedCase-Cluster', '1st-cluster',
    '9_9', 'x' * 38, 'y' * 39, 'z' * 63, 'a' + '_' * 61 + 'b', ('ab_' * 21)[:62] + 'c', 'a-' * 31 + 'b',
    'a' * 23 + '_b', 'a' * 24 + '_b', 'prod_westeurope_aks_cluster_0001',
]


def cluster_id(name, sub='00000000-0000-4000-8000-000000000001', rg='rg-clusters'):
    return f'/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}'


def topic_name(cluster_id: str) -> str:
    """The derivation: keep `aks-cadence-<cluster>` when Event Grid accepts it, else a
    sanitised, cut name plus a hash of the lower-cased id."""
    cluster = cluster_id.split('/')[-1]
    legacy = f'aks-cadence-{cluster}'
    if len(legacy) <= 50 and '_' not in cluster:
        return legacy
    return f"aks-cadence-{cluster.lower().replace('_', '-')[:24]}-{bl.unique_string(cluster_id.lower())}"


def bicep_topic_name(cluster_id: str) -> str:
    f = bl.parse_file(MODULE)
    env = {'clusterId': [cluster_id]}
    for name in ('clusterName', 'legacyTopicName', 'topicName'):
        env[name] = bl.Evaluator().eval(f.get('var', name).value, env)
    values = env['topicName']
    assert len(values) == 1, values
    return values[0]


class TopicNames(unittest.TestCase):
    def test_samples_are_valid_cluster_names(self):
        for n in AWKWARD:
            self.assertRegex(n, AKS_NAME)

    def test_bicep_and_model_agree_and_names_are_valid(self):
        for n in AWKWARD:
            with self.subTest(cluster=n):
                name = bicep_topic_name(cluster_id(n))
                self.assertEqual(name, topic_name(cluster_id(n)))
                self.assertTrue(EVENT_GRID_NAME.fullmatch(name), f'{name!r} ({len(name)})')

    def test_old_names_are_kept_where_valid(self):
        for n in ['aks', 'my-cluster', 'MixedCase-Cluster', 'x' * 38]:
            self.assertEqual(bicep_topic_name(cluster_id(n)), f'aks-cadence-{n}')
        for n in ['my_cluster', 'y' * 39, 'z' * 63]:
            self.assertNotEqual(bicep_topic_name(cluster_id(n)), f'aks-cadence-{n}')

    def test_stable_whatever_the_casing_of_the_id(self):
        for n in AWKWARD:
            a = bicep_topic_name(cluster_id(n))
            b = bicep_topic_name(cluster_id(n).upper())
            c = bicep_topic_name(cluster_id(n).lower())
            self.assertEqual({a.lower(), b.lower(), c.lower()}, {a.lower()}, n)

    def test_unique_per_cluster(self):
        ids = [cluster_id(n) for n in AWKWARD]
        ids += [cluster_id('z' * 63, rg='other-group'), cluster_id('my_cluster', sub='00000000-0000-4000-8000-000000000002')]
        names = [bicep_topic_name(i).lower() for i in ids]
        self.assertEqual(len(set(names)), len(ids), names)


if __name__ == '__main__':
    unittest.main()
