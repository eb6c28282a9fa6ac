"""Independent single-tensor magnitude pruning with Debian's onnx + numpy: zero the smallest |w| of one
weight (held in an initializer or a Constant node) and save the model. Usage: prune_one.py IN OUT TENSOR SPARSITY"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

src, dst, name, sparsity = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
model = onnx.load(src)
holders = [t for t in model.graph.initializer if t.name == name]
holders += [a.t for n in model.graph.node if n.op_type == 'Constant' and list(n.output) == [name] for a in n.attribute if a.name == 'value']
if len(holders) != 1:
    sys.exit(f'{name}: found {len(holders)} tensors')
w = numpy_helper.to_array(holders[0]).astype(np.float32)
k = int(np.floor(w.size * sparsity))
flat = w.reshape(-1).copy()
flat[np.argsort(np.abs(flat), kind='stable')[:k]] = 0
holders[0].CopyFrom(numpy_helper.from_array(flat.reshape(w.shape), holders[0].name))
onnx.save(model, dst)
