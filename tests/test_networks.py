"""Decision Transformer and critic: size, causality, padding, dropout, NumPy critic forward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vitamin_jax.networks import CriticEnsemble, DecisionTransformer

S, A, K = 5, 3, 6


def make_inputs(seed, batch=2, length=K):
    rng = np.random.default_rng(seed)
    return dict(
        states=rng.normal(size=(batch, length, S)).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(batch, length, A)).astype(np.float32),
        rtg=rng.normal(size=(batch, length)).astype(np.float32),
        timesteps=np.tile(np.arange(length, dtype=np.int32), (batch, 1)),
        mask=np.ones((batch, length), np.float32),
    )


@pytest.fixture(scope="module", params=[False, True], ids=["deterministic_head", "stochastic_head"])
def small_model(request):
    model = DecisionTransformer(S, A, embed_dim=32, n_layer=2, n_head=2, dropout=0.1, stochastic=request.param)
    x = make_inputs(0)
    params = model.init(jax.random.PRNGKey(0), **x, deterministic=True)
    apply = jax.jit(lambda p, inputs: model.apply(p, **inputs, deterministic=True))
    return model, params, apply


def expected_parameter_count(d, layers, s, a):
    block = (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 2 * (2 * d)
    embeddings = (s * d + d) + (a * d + d) + (1 * d + d)
    return layers * block + embeddings + 2 * d + 2 * d + (d * a + a)  # + embed_ln, ln_f, head


def test_default_size_is_about_13m_parameters():
    state_dim, act_dim = 17, 6  # halfcheetah
    model = DecisionTransformer(state_dim, act_dim)  # d 512, 4 layers, 4 heads
    x = dict(
        states=jnp.zeros((1, 20, state_dim)), actions=jnp.zeros((1, 20, act_dim)), rtg=jnp.zeros((1, 20)),
        timesteps=jnp.zeros((1, 20), jnp.int32), mask=jnp.ones((1, 20)),
    )
    shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), **x, deterministic=True))
    count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes))
    print(f"Decision Transformer parameters (d 512, 4 layers, S 17, A 6): {count:,}")
    assert count == expected_parameter_count(512, 4, state_dim, act_dim) == 12_628_486
    assert 12e6 < count < 14e6


def test_future_tokens_do_not_change_earlier_actions(small_model):
    _, params, apply = small_model
    x = make_inputs(1)
    base = apply(params, x).action
    t0 = 2
    changed = {k: v.copy() for k, v in x.items()}
    changed["states"][:, t0 + 1:] += 5.0
    changed["rtg"][:, t0 + 1:] -= 3.0
    changed["actions"][:, t0:] = -changed["actions"][:, t0:]  # a_t0 comes after the s_t0 token
    out = apply(params, changed).action
    np.testing.assert_allclose(out[:, : t0 + 1], base[:, : t0 + 1], atol=1e-6)
    assert np.abs(np.asarray(out[:, t0 + 1:]) - np.asarray(base[:, t0 + 1:])).max() > 1e-4


def test_padded_positions_do_not_change_outputs(small_model):
    _, params, apply = small_model
    x = make_inputs(2)
    x["mask"][:, :3] = 0.0  # left padding
    base = apply(params, x).action
    changed = {k: v.copy() for k, v in x.items()}
    for key in ("states", "actions", "rtg"):
        changed[key][:, :3] = 7.0
    out = apply(params, changed).action
    np.testing.assert_allclose(out[:, 3:], base[:, 3:], atol=1e-6)


def test_dropout_only_when_not_deterministic():
    model = DecisionTransformer(S, A, embed_dim=32, n_layer=2, n_head=2, dropout=0.5)
    x = make_inputs(3)
    params = model.init(jax.random.PRNGKey(0), **x, deterministic=True)
    det = [model.apply(params, **x, deterministic=True, rngs={"dropout": jax.random.PRNGKey(i)}).action for i in (0, 1)]
    np.testing.assert_array_equal(det[0], det[1])
    train = [model.apply(params, **x, deterministic=False, rngs={"dropout": jax.random.PRNGKey(i)}).action for i in (0, 1)]
    assert np.abs(np.asarray(train[0]) - np.asarray(train[1])).max() > 1e-4


@pytest.mark.parametrize("stochastic", [False, True])
@pytest.mark.parametrize("deterministic", [True, False])
def test_the_pruned_last_block_gives_every_token_models_actions(stochastic, deterministic):
    """The last block computes the state tokens only: same actions (and dropout draws) as every token."""
    kwargs = dict(embed_dim=32, n_layer=3, n_head=4, dropout=0.3, stochastic=stochastic)
    full = DecisionTransformer(S, A, **kwargs, prune_last_block=False)
    pruned = DecisionTransformer(S, A, **kwargs)
    assert pruned.prune_last_block  # the default
    x = make_inputs(4)
    params = full.init(jax.random.PRNGKey(0), **x, deterministic=True)
    rngs = {"dropout": jax.random.PRNGKey(7)}
    want = full.apply(params, **x, deterministic=deterministic, rngs=rngs)
    got = pruned.apply(params, **x, deterministic=deterministic, rngs=rngs)
    np.testing.assert_allclose(got.action, want.action, atol=1e-6)
    if stochastic:
        np.testing.assert_allclose(got.log_std, want.log_std, atol=1e-6)
    other = pruned.apply(params, **x, deterministic=deterministic, rngs={"dropout": jax.random.PRNGKey(8)})
    assert (np.abs(np.asarray(other.action) - np.asarray(want.action)).max() > 1e-4) != deterministic


def test_heads_output_ranges(small_model):
    model, params, apply = small_model
    out = apply(params, make_inputs(4))
    assert np.all(np.abs(out.action) < 1.0)
    if model.stochastic:
        assert np.all((out.log_std >= -5.0) & (out.log_std <= 2.0))
        np.testing.assert_allclose(out.action, np.tanh(out.mu), rtol=1e-6)
    else:
        assert out.mu is None and out.log_std is None


def test_ordering_embedding_adds_timestep_information():
    model = DecisionTransformer(S, A, embed_dim=32, n_layer=1, n_head=2, ordering=1)
    x = make_inputs(5)
    params = model.init(jax.random.PRNGKey(0), **x, deterministic=True)
    shifted = dict(x, timesteps=x["timesteps"] + 10)
    a = model.apply(params, **x, deterministic=True).action
    b = model.apply(params, **shifted, deterministic=True).action
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-5
    plain = DecisionTransformer(S, A, embed_dim=32, n_layer=1, n_head=2)
    plain_params = plain.init(jax.random.PRNGKey(0), **x, deterministic=True)
    np.testing.assert_array_equal(
        plain.apply(plain_params, **x, deterministic=True).action,
        plain.apply(plain_params, **shifted, deterministic=True).action,
    )


def numpy_critic(params, states, actions, layer_norm):
    x = np.concatenate([states, actions], -1)
    for name in ("hidden_0", "hidden_1"):
        x = x @ np.asarray(params[name]["dense"]["kernel"]) + np.asarray(params[name]["dense"]["bias"])
        if layer_norm:
            x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
        x = np.maximum(x, 0)
    return (x @ np.asarray(params["q"]["dense"]["kernel"]) + np.asarray(params["q"]["dense"]["bias"]))[..., 0]


@pytest.mark.parametrize("layer_norm", [False, True])
def test_critic_ensemble_matches_numpy(layer_norm):
    critic = CriticEnsemble((256, 256), layer_norm=layer_norm, num_qs=2)
    x = make_inputs(6)
    params = critic.init(jax.random.PRNGKey(0), x["states"], x["actions"])
    q = np.asarray(critic.apply(params, x["states"], x["actions"]))
    assert q.shape == (2, 2, K)
    stacked = params["params"]["critics"]
    for i in range(2):
        member = jax.tree.map(lambda p: p[i], stacked)
        np.testing.assert_allclose(q[i], numpy_critic(member, x["states"], x["actions"], layer_norm), rtol=1e-4, atol=1e-5)
    assert not np.allclose(q[0], q[1])  # independent initialisations
    # LayerNorm has no parameters of its own; weights and biases U(+-1/sqrt(fan_in)) as torch.
    assert set(stacked) == {"hidden_0", "hidden_1", "q"}
    assert np.abs(np.asarray(stacked["hidden_1"]["dense"]["kernel"])).max() <= 1 / np.sqrt(256)
