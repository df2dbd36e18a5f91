"""Every dataset molbench can build, by name. Adding a dataset: one module, one line here."""

from molbench.builders.base import BuildContext, Builder, DatasetInfo, SplitDefinition
from molbench.builders.reactions import ReactionsBuilder
from molbench.builders.text import TextBuilder
from molbench.builders.validity import ValidityBuilder

BUILDERS: dict[str, Builder] = {
    b.info.name: b for b in (ValidityBuilder(), ReactionsBuilder(), TextBuilder())
}

__all__ = ["BUILDERS", "BuildContext", "Builder", "DatasetInfo", "SplitDefinition"]
