# How close can a float32 computation get to the float64 DynUNet fixture? Runs the fixture's own network definition
# (shared/fixtures/torch/make_fixtures.py) on dynunet_small.pt in PyTorch, once in float64 and once in float32, from the
# fixture's stored input, and writes each one's relative errors against dynunet_small.npz as JSON. The engine's test
# (test/models/dynunet.test.ts) holds the engine's float32 errors to PyTorch float32's own.
#
#   python3 scripts/torch/f32_baseline.py > test/fixtures/torch/dynunet_small_f32_baseline.json
#
# Needs PyTorch and NumPy (Debian: apt-get install python3-torch). Takes about a minute on two cores.
import json, os, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared', 'fixtures', 'torch')
src = open(os.path.join(shared, 'make_fixtures.py')).read()
# the fixture's loss and network classes, exactly as the fixture was made
exec(src[src.index('def dice_ce'):src.index('logit = r(2, 1, 6, 7, 8)')])
exec(src[src.index('class Conv(nn.Module)'):src.index('full = DynUNet(')])

fx = np.load(os.path.join(shared, 'dynunet_small.npz'))
sd = torch.load(os.path.join(shared, 'dynunet_small.pt'))
names = [str(n) for n in fx['param_names']]
torch.set_num_threads(max(1, os.cpu_count() or 1))


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def run(dtype):
    m = DynUNet([4, 8, 8, 16, 16, 16])
    m.load_state_dict(sd)
    m = m.to(dtype)
    x = torch.from_numpy(fx['x']).to(dtype)
    t = torch.from_numpy(fx['target'].astype(np.float64)).to(dtype)
    y = m(x)
    loss = dice_ce(y, t)
    loss.backward()
    g = {n: p.grad.detach().double().numpy().copy() for n, p in m.named_parameters()}
    torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1).step()
    after = {n: p.detach().double().numpy().copy() for n, p in m.named_parameters()}
    num = sum(float(np.sum((g[n] - fx['grad.' + n]) ** 2)) for n in names)
    den = sum(float(np.sum(fx['grad.' + n] ** 2)) for n in names)
    grads = {n: rel(g[n], fx['grad.' + n]) for n in names}
    steps = {n: rel(after[n], fx['after_step.' + n]) for n in names}
    return {
        'logits': rel(y.detach().double().numpy(), fx['logits']),
        'loss': abs(float(loss) - float(fx['loss'])) / abs(float(fx['loss'])),
        'gradient_vector': (num / den) ** 0.5,
        'worst_gradient': max(grads.values()),
        'worst_gradient_name': max(grads, key=grads.get),
        'gradients_over_1e-4': sum(1 for v in grads.values() if v > 1e-4),
        'worst_step': max(steps.values()),
        'worst_step_name': max(steps, key=steps.get),
        'gradients': grads,
    }


out = {'torch': torch.__version__, 'float64': run(torch.float64), 'float32': run(torch.float32)}
json.dump(out, sys.stdout, indent=1)
sys.stdout.write('\n')
