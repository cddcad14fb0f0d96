"""labgrid board farms: reserve and acquire a place, reach its board over SSH, release it.

A target profile whose `connection` is `{type: labgrid, coordinator: HOST:PORT, place: NAME}`
(or `tags: {board: rpi4}` for any free place with those tags) describes *how* to talk to the
board (SSH key, known_hosts, python, workdir); the place's NetworkService resource says *where*
it is (address, username, port). `leased_target()` joins the two for as long as the place is
held; `list_places()` is `edgefer targets list --labgrid ADDRESS`.

labgrid is an optional extra (`pip install 'edgefer[labgrid]'`): its Python client talks gRPC
to the coordinator (labgrid >= 24).
"""

from edgefer.lab.client import LabClient, Lease, clients, list_places
from edgefer.lab.targets import board_target, leased_target

__all__ = ["LabClient", "Lease", "board_target", "clients", "leased_target", "list_places"]
