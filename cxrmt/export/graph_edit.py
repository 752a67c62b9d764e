"""Small edits of ONNX graphs shared by the export rewrites."""


def attributes(node) -> dict:
    """A node's attributes as Python values."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def drop_unread_initializers(graph) -> None:
    """Remove the initializers that no node reads any more."""
    read = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in read]:
        graph.initializer.remove(init)


def unique_prefix(graph, base: str) -> str:
    """`base`, or `base` with a suffix, that no node, tensor or initializer name starts with."""
    taken = {n.name for n in graph.node} | {o for n in graph.node for o in n.output} | \
        {i.name for i in graph.initializer}
    prefix, k = base, 1
    while any(t.startswith(prefix + "/") for t in taken):
        prefix, k = f"{base}_{k}", k + 1
    return prefix


def name_unnamed_nodes(graph) -> None:
    """Name every unnamed node after its first output (node names select what to exclude)."""
    for n in graph.node:
        if not n.name:
            n.name = n.output[0]
