"""The WLDN reaction model: mixture batches, stage-1 training, valence pruning, the budgeted
mixture transform, and edit sets turned into products."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import molbench

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

import torch
from torch_geometric.data import Data

from molbench.nn.mixture_graph import BudgetedMixtureEdges, budget_edges
from molbench.nn.reaction_candidates import (
    allowed_valence,
    enumerate_candidates,
    product_smiles,
)
from molbench.nn.reaction_wln import (
    OTHER_MOLECULE,
    ReactionGraphs,
    ReactionWLDN,
    pair_index,
    rank_batch,
)

C, OH, N = [6, 0, 3, 1, 0, 4, 0, 0], [8, 0, 1, 1, 0, 4, 0, 0], [7, 0, 2, 1, 0, 4, 0, 0]


def _row(mapped: str, atoms: list, bonds: list, orders: list, component: list, edits: list):
    """One table row in the dataset's one-big-graph form."""
    return {
        "mapped_rxn": mapped,
        "atom_features": atoms,
        "edge_index": [[a for a, _ in bonds], [b for _, b in bonds]],
        "bond_orders": orders,
        "component": component,
        "edit_index": [[a for a, _, _ in edits], [b for _, b, _ in edits]],
        "edit_orders": [o for _, _, o in edits],
    }


# ethanol + methylamine (3 + 2 atoms), and acetyl chloride + ammonia -> acetamide
ROWS = [
    _row("[CH3:1][CH2:2][OH:3].[CH3:4][NH2:5]>>x", [C, C, OH, C, N],
         [(0, 1), (1, 2), (3, 4)], [1.0, 1.0, 1.0], [0, 0, 0, 1, 1], [(1, 4, 1.0), (1, 2, 0.0)]),
    _row("[CH3:1][C:2](=[O:3])[Cl:4].[NH3:5]>>x",
         [C, [6, 0, 0, 3, 0, 3, 0, 0], [8, 0, 0, 1, 0, 3, 0, 0], [17, 0, 0, 1, 0, 4, 0, 0],
          [7, 0, 3, 0, 0, 4, 0, 0]],
         [(0, 1), (1, 2), (1, 3)], [1.0, 2.0, 1.0], [0, 0, 0, 0, 1], [(1, 3, 0.0), (1, 4, 1.0)]),
]  # fmt: skip


@pytest.fixture
def table() -> pa.Table:
    return pa.Table.from_pylist(ROWS)


def test_batch_concatenates_graphs_with_pair_features_and_labels(table: pa.Table) -> None:
    graphs = ReactionGraphs(table)
    batch = graphs.batch(np.array([1, 0]))
    assert batch["x"].shape == (10, 8)
    assert batch["x"][:, 0].tolist() == [6, 6, 8, 17, 7, 6, 6, 8, 6, 7]
    assert batch["src"].tolist() == [0, 1, 1, 5, 6, 8]  # the second graph shifted by 5 atoms
    assert len(batch["pair_i"]) == 20 and int(batch["num_graphs"]) == 2
    pairs = list(zip(batch["pair_i"].tolist(), batch["pair_j"].tolist(), strict=True))
    # acetyl chloride C1-O2 is a double bond (class 2), C1 and N4 are in other molecules
    assert batch["pair_cls"][pairs.index((1, 2))] == 2
    assert batch["pair_dist"][pairs.index((1, 4))] == OTHER_MOLECULE
    assert batch["pair_dist"][pairs.index((0, 3))] == 1  # two bonds apart
    labelled = {(pairs[p], c) for p, c in zip(batch["label_pair"], batch["label_cls"], strict=True)}
    assert {(p, int(c)) for p, c in labelled} == {
        ((1, 3), 0),
        ((1, 4), 1),
        ((6, 9), 1),
        ((6, 7), 0),
    }


def test_center_logits_mask_the_current_bond_and_the_loss_decreases(table: pa.Table) -> None:
    torch.manual_seed(0)
    model = ReactionWLDN(hidden=16, depth=2, rank_hidden=8, rank_depth=1)
    batch = ReactionGraphs(table).batch(np.arange(2))
    logits = model.center(batch)
    assert logits.shape == (20, 5)
    current = batch["pair_cls"]
    assert torch.isinf(logits[torch.arange(20), current]).all()
    assert torch.isfinite(logits).sum() == 20 * 4
    optimizer = torch.optim.Adam(model.center.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = model.center.loss(model.center(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_valence_pruning_drops_overfull_atoms_and_repeated_pairs() -> None:
    x = np.array([C, [6, 0, 0, 4, 0, 4, 0, 0], OH, [8, -1, 0, 1, 0, 4, 0, 0]])
    bond_sum = np.array([1.0, 4.0, 1.0, 1.0])
    allowed = allowed_valence(x, bond_sum)
    # CH3 may trade its 3 H; quaternary C none; OH may become an oxonium; O- an ether
    assert allowed.tolist() == [4.0, 4.0, 3.0, 2.0]
    changes = np.array([[0, 2, 1], [1, 2, 1], [0, 2, 2], [0, 3, 1]])  # (i, j, class)
    scores = np.array([3.0, 2.0, 1.0, 0.5])
    subsets, prior = enumerate_candidates(
        changes, scores, np.zeros(4), bond_sum, allowed, max_edits=3, limit=100
    )
    kept = {tuple(np.flatnonzero(s).tolist()) for s in subsets}
    assert all(1 not in s for s in kept)  # the quaternary carbon cannot take a fifth bond
    assert all(not {0, 2} <= set(s) for s in kept)  # one pair cannot change twice
    assert kept == {(0,), (2,), (3,), (0, 3), (2, 3)}
    assert list(prior) == sorted(prior, reverse=True)
    assert prior[0] == 3.5  # (0, 3): 3.0 + 0.5


def test_budget_edges_are_symmetric_cross_molecule_and_within_budget() -> None:
    rng = np.random.default_rng(0)
    x = np.array([rng.choice([C, OH, N]) for _ in range(30)])
    component = np.repeat([0, 1, 2, 3], [10, 8, 7, 5])
    for k in (1, 2, 4):
        edges = budget_edges(x, component, k)
        assert (component[edges[0]] != component[edges[1]]).all()
        assert (edges[0] < edges[1]).all()
        assert np.bincount(edges.ravel(), minlength=30).max() <= k
        assert len({tuple(e) for e in edges.T}) == edges.shape[1]
        assert edges.shape[1] >= 30 * k // 4  # the greedy matching does use the budget
    assert budget_edges(x, component, 0).shape == (2, 0)
    assert (budget_edges(x, component, 3) == budget_edges(x, component, 3)).all()


def test_transform_adds_both_directions_and_k0_adds_nothing() -> None:
    x = torch.tensor([C, C, OH, C, N])
    data = Data(
        x=x,
        edge_index=torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]]),
        edge_attr=torch.ones(6),
        component=torch.tensor([0, 0, 0, 1, 1]),
    )
    same = BudgetedMixtureEdges(0)(data.clone())
    assert same.edge_index.equal(data.edge_index) and not same.cross_edge.any()
    out = BudgetedMixtureEdges(1)(data.clone())
    added = out.edge_index[:, out.cross_edge]
    assert added.size(1) == 4  # two edges, both directions
    assert {tuple(e) for e in added.T.tolist()} == {tuple(e) for e in added.flip(0).T.tolist()}
    assert torch.bincount(added[0], minlength=5).max() <= 1
    assert (out.edge_attr[out.cross_edge] == -1).all() and out.edge_attr.size(0) == 10
    assert (out.component[added[0]] != out.component[added[1]]).all()


def test_budget_context_limits_the_cross_molecule_pairs(table: pa.Table) -> None:
    n = 5
    full = ReactionGraphs(table, "global")
    blind = ReactionGraphs(table, "budget", 0)
    some = ReactionGraphs(table, "budget", 1)
    cross = full.pair_dist == OTHER_MOLECULE
    assert full.pair_context.all()
    assert not blind.pair_context[cross].any() and blind.pair_context[~cross].all()
    row0 = some.pair_context[: n * (n - 1) // 2]
    assert 1 <= row0[cross[: n * (n - 1) // 2]].sum() <= 2
    assert pair_index(np.array([1]), np.array([4]), n)[0] == 6


def test_true_edits_give_the_recorded_product(raw_fixtures, tmp_path) -> None:
    result = molbench.build(
        "reactions",
        {"splits": "train"},
        configs=["uspto_15k"],
        out=tmp_path,
        workers=1,
        source=raw_fixtures,
    )
    rows = molbench.open_dataset(result.path).table("uspto_15k", "train").slice(0, 10)
    graphs = ReactionGraphs(rows)
    hits = 0
    for r, (mapped, products) in enumerate(
        zip(rows["mapped_rxn"].to_pylist(), rows["products"].to_pylist(), strict=True)
    ):
        edits = [(i, j, [0.0, 1.0, 2.0, 3.0, 1.5][c]) for i, j, c in graphs.true_edits(r)]
        hits += product_smiles(mapped, [edits])[0] == products
    assert hits >= 9
    # the CPU half of the model, fed the true edit sets, names the recorded products too
    flat = np.empty(len(rows), dtype=object)
    flat[:] = [[[v for e in graphs.true_edits(r) for v in e]] for r in range(len(rows))]
    named = ReactionWLDN.predictions_from_outputs(rows, {"ranked_edits": flat})["predictions"]
    assert sum(p == [t] for p, t in zip(named, rows["products"].to_pylist(), strict=True)) >= 9


def test_an_untouched_reactant_stays_in_the_product_a_leaving_group_does_not() -> None:
    # methylamine + chloroethane with HCl among the reactants: the product is the amine salt
    mapped = "[CH3:1][NH2:2].[Cl:3][CH2:4][CH3:5].[ClH:6]>>[CH3:1][NH:2][CH2:4][CH3:5].[ClH:6]"
    edits = [(2, 3, 0.0), (1, 3, 1.0)]  # atom indices: break Cl-C, make N-C
    assert product_smiles(mapped, [edits], reactant_atoms=set(range(6))) == ["CCNC.Cl"]
    assert product_smiles(mapped, [edits]) == ["CCNC"]  # no reactants given: largest only
    # the HCl a reagent (not a reactant): dropped
    assert product_smiles(mapped, [edits], reactant_atoms=set(range(5))) == ["CCNC"]


def test_the_difference_network_ranks_the_true_candidate_first_after_training(table) -> None:
    torch.manual_seed(0)
    model = ReactionWLDN(hidden=16, depth=2, rank_hidden=16, rank_depth=1, rank_diff_depth=1)
    graphs = ReactionGraphs(table)
    found = model.propose(graphs, np.arange(2), "cpu", 6, truth=True)
    assert all(f.true_index >= 0 and len(f.edits) > 1 for f in found)
    batch = rank_batch(graphs, np.arange(2), found)
    batch["prior"] = torch.zeros_like(batch["prior"])  # the network alone must find it
    optimizer = torch.optim.Adam(model.ranker.parameters(), lr=1e-2)
    for _ in range(40):
        loss = model.ranker.loss(model.ranker(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    scores = model.ranker(batch).detach()
    for g, f in enumerate(found):
        mine = scores[batch["cand_group"] == g]
        assert int(mine.argmax()) == f.true_index
    # the difference network's weights are trained (a card without it loads with none)
    assert model.ranker.diff_update[0].weight.grad is not None
    old = {"hidden": 16, "depth": 2, "rank_hidden": 16, "rank_depth": 1, "context": "global"}
    old |= {"k": 0, "top_k": 6, "max_edits": 3, "candidates": 10}
    assert len(ReactionWLDN.from_hyperparameters(old).ranker.diff_update) == 0


def test_product_smiles_stop_at_the_predictions_asked_for(monkeypatch) -> None:
    from molbench.chem import reaction_edits
    from molbench.nn import reaction_wln

    mapped = "[CH3:1][NH2:2].[Cl:3][CH2:4][CH3:5]>>[CH3:1][NH:2][CH2:4][CH3:5]"
    ranked = [[(2, 3, 0), (1, 3, 1)], [(2, 3, 0), (0, 3, 1)], [(1, 3, 1)], [(2, 3, 0)]]
    calls = []
    real = reaction_edits.edited_mixture
    monkeypatch.setattr(reaction_edits, "edited_mixture", lambda *a: calls.append(1) or real(*a))
    assert reaction_wln._candidates_of(mapped, None, ranked, 1) == (["CCNC"], ["CCNC.Cl"])
    assert len(calls) == 1  # the other three edit sets are never written
    products, mixtures = reaction_wln._candidates_of(mapped, None, ranked, 10)
    assert len(calls) == 5  # every set replayed once, for both lists
    # the product drops the leaving group (and, without reactant atoms, the other
    # molecules); the whole mixture keeps every molecule, as the WLDN authors' candidates do
    assert products == ["CCNC", "CCCN", "CNC(C)Cl", "CC"]
    assert mixtures == ["CCNC.Cl", "CCCN.Cl", "CNC(C)Cl", "CC.CN.Cl"]
