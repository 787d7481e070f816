"""Base experiment config: the original TD3+ODT defaults (docs/design.md#configs).

Family files (mujoco.py, adroit.py, ...) start from `get_config()` and override a few
fields per preset. `-1` in critic.layer_norm and online.reward_scale means "take the value
from the dataset registry" (vitamin_jax/config_validation.py); the allowed values of every field
are in vitamin_jax/schema.py.
"""

import ml_collections


def get_config(preset: str = "") -> ml_collections.ConfigDict:
    if preset:
        raise ValueError(f"configs/base.py takes no preset (got {preset!r}); the family files "
                         f"(configs/mujoco.py, adroit.py, antmaze.py, maze2d.py, toy.py) take presets")
    c = ml_collections.ConfigDict()
    c.env_name = 'hopper-medium'  # a dataset name of vitamin_jax.envs.registry
    c.seed = 16
    c.num_seeds = 1  # S > 1: seeds seed .. seed + S - 1 vmapped in one process
    # a row of vitamin_jax/algorithms.py (vitamin_jax/schema.py ALGO_NAMES): odt | td3_odt | td3, and the
    # paper's ablation gradients ddpg_odt | sac_odt | iql_odt | awac_odt (docs/faithfulness.md#ablation-gradients)
    c.algo = 'td3_odt'

    c.dataset = ml_collections.ConfigDict()
    c.dataset.minari_id = ''  # '' = the registry's default Minari id
    c.dataset.path = ''  # a legacy D4RL .hdf5 file; takes precedence over Minari
    c.dataset.download = False  # try `minari.download_dataset` when missing locally
    c.dataset.generate_if_missing = False  # generate a random-policy dataset locally
    c.dataset.generate_num_steps = 1_000_000
    c.dataset.remove_trivial_trajs = True  # AntMaze: keep only 9 one-step trajectories
    c.dataset.delayed_reward = 0  # M > 1: rewards summed and paid every M steps
    # D4RL's task on Minari data (docs/faithfulness.md#maze2d-environments and the sections after):
    c.dataset.maze_relabel = True  # mazes: rewards, terminals and ends from the fixed goal; False: as recorded
    c.dataset.observation_layout = 'd4rl'  # mazes: 'd4rl' (4 / 29 dims, no goal) | 'goal' (goal appended), env too
    c.dataset.adroit_rewards = 'd4rl'  # door/hammer/relocate: 'd4rl' (relabel if they differ) | 'stored'

    c.model = ml_collections.ConfigDict()
    c.model.embed_dim = 512
    c.model.n_layer = 4
    c.model.n_head = 4
    c.model.dropout = 0.1
    c.model.context_len = 20  # K, the training context
    c.model.eval_context_length = 5  # steps kept at rollout time, left-padded to K
    c.model.ordering = 0  # 1: add a learned absolute-timestep embedding (off in the paper)
    c.model.compute_dtype = 'float32'  # 'bfloat16' for the transformer's matmuls

    c.critic = ml_collections.ConfigDict()
    c.critic.hidden_dims = (256, 256)
    c.critic.layer_norm = -1  # -1 registry default, 0 off, 1 on (non-affine LayerNorm)
    c.critic.num_qs = 2
    c.critic.learning_rate = 1e-3
    c.critic.weight_decay = 0.01  # PyTorch AdamW default, as in the original

    c.actor = ml_collections.ConfigDict()
    c.actor.learning_rate = 1e-4
    c.actor.weight_decay = 5e-4
    c.actor.warmup_steps = 10_000
    c.actor.grad_clip = 0.25
    c.actor.eps = 1e-8

    c.temperature = ml_collections.ConfigDict()
    c.temperature.init = 0.1
    c.temperature.learning_rate = 1e-4

    c.rl = ml_collections.ConfigDict()
    c.rl.gamma = 0.99
    c.rl.tau = 0.005
    c.rl.policy_noise = 0.2
    c.rl.noise_clip = 0.5
    # -1: the algorithm's own (TD3 rows: 2, as Table 9; ODT and the ablations: 1). Any other
    # value is checked against what the algorithm allows.
    c.rl.actor_update_interval = -1
    c.rl.rl_coeff = 0.1  # alpha: weight of the RL term (0 for pure ODT)
    c.rl.sup_coeff = 1.0  # weight of the supervised term (0 online for pure TD3)
    c.rl.rl_from_start = False  # use the RL term during pretraining too (AntMaze)
    c.rl.target_masking = 'faithful'  # 'faithful' (all-ones mask) | 'fixed' (sample's mask)
    c.rl.normalized_rl_coeff = False  # alpha / mean|Q| of the batch (TD3+BC style)

    # Ablation algorithms (docs/design.md#ablation-gradients); used only by iql_odt / awac_odt.
    c.iql = ml_collections.ConfigDict()
    c.iql.expectile = 0.7  # Adroit: 0.9
    c.iql.beta = 3.0  # Adroit: 10
    c.iql.weight_clip = 100.0
    c.awac = ml_collections.ConfigDict()
    c.awac.beta = 1.0
    c.awac.weight_clip = 20.0
    c.awac.normalize_adv = False  # softmax weights over all B x K entries
    c.awac.soft_target = True  # entropy bonus in the critic target (the original's default)

    c.train = ml_collections.ConfigDict()
    c.train.batch_size = 256
    c.train.max_pretrain_iters = 1
    c.train.num_updates_per_pretrain_iter = 5000
    c.train.num_updates_per_online_iter = 300
    c.train.replay_size = 1000  # trajectories
    c.train.updates_per_dispatch = 50  # updates fused into one jitted lax.scan call
    c.train.sampler = 'device'  # 'device': replay on device, sampled inside the scan | 'host': NumPy

    c.online = ml_collections.ConfigDict()
    c.online.eval_rtg = 3600.0  # in reward units after the per-family division
    c.online.online_rtg = 7200.0
    c.online.reward_scale = -1.0  # RTG scale; -1 = registry default
    c.online.num_online_envs = 1
    c.online.num_eval_episodes = 10
    c.online.minimum_sapairs_per_iter = 0
    c.online.expl_noise = 0.1
    c.online.max_online_transitions = 500_000
    c.online.eval_interval = 10
    c.online.truncation = 'terminal'  # 'terminal' (original) | 'bootstrap' (time limits bootstrap)
    # True: iteration i+1's rollout runs beside iteration i's updates, with the parameters iteration i
    # started from (one iteration staler than the original; docs/faithfulness.md#asynchronous-collection)
    c.online.async_collect = False

    c.parallel = ml_collections.ConfigDict()
    c.parallel.data_parallel = False  # shard every batch over a 1-D mesh of local devices (always on multi-process)
    c.parallel.num_devices = 0  # 0 = all devices
    # multi-process jobs (docs/design.md#multi-process-runs): host:port of process 0 ('' = from the
    # environment: srun, TPU pod, JAX_COORDINATOR_ADDRESS); these launch fields may differ per process
    c.parallel.coordinator_address = ''
    c.parallel.num_processes = 0
    c.parallel.process_id = -1
    c.parallel.heartbeat_timeout_s = 100  # a process whose peer is gone this long aborts

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.every_iters = 10
    c.checkpoint.keep = 2

    c.log = ml_collections.ConfigDict()
    c.log.tensorboard = True
    c.log.progress_bar = True
    c.log.wandb = False  # mirror every scalar to Weights & Biases (extra vitamin_jax[wandb])
    c.log.wandb_project = 'vitamin_jax'
    c.log.wandb_mode = 'offline'  # offline | online | disabled; offline needs no account (`wandb sync` later)
    return c


def get_sparse_family_config(env_name: str, *, context_len: int, eval_context_length: int, rtg: float,
                             pretrain_updates: int, replay_size: int) -> ml_collections.ConfigDict:
    """Adroit, AntMaze and Maze2D share the README's settings beyond the MuJoCo defaults:
    actor lr 1e-4 and weight decay 1e-4, critic lr 2e-4, actor updated every critic step,
    >= 1000 transitions per iteration, the same RTG for evaluation and exploration, and a
    1M-transition online budget."""
    c = get_config()
    c.env_name = env_name
    c.model.context_len = context_len
    c.model.eval_context_length = eval_context_length
    c.actor.learning_rate = 1e-4
    c.actor.weight_decay = 1e-4
    c.critic.learning_rate = 2e-4
    c.rl.actor_update_interval = 1
    c.train.max_pretrain_iters = 1
    c.train.num_updates_per_pretrain_iter = pretrain_updates
    c.train.replay_size = replay_size
    c.online.eval_rtg = rtg
    c.online.online_rtg = rtg
    c.online.minimum_sapairs_per_iter = 1000
    c.online.max_online_transitions = 1_000_000
    return c
