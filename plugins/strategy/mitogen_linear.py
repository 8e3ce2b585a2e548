"""Mitogen's linear strategy, found by Ansible through this repository's ansible.cfg.

ansible.cfg sets `strategy_plugins = plugins/strategy` and `strategy = mitogen_linear`,
so every playbook and molecule scenario runs under Mitogen wherever the pinned `mitogen`
package (requirements.txt) is installed, whatever the controller's Python version or
virtualenv path. The class is Mitogen's own mixin over Ansible's linear strategy; it is
imported under its real module name so Mitogen's types exist once in memory.

Fallback: ANSIBLE_STRATEGY=linear runs Ansible's plain strategy and never loads this file.
"""

import ansible_mitogen.loaders
import ansible_mitogen.strategy

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):
    """Ansible's linear strategy with Mitogen's connection and module execution."""
