"""The config schema: every key of every YAML file, as frozen dataclasses with a doc per field.

`config.py` loads, checks and derives; this module only says what the keys are, their types,
defaults and meaning (`lstm-se config --table` renders it for the README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from . import LstmSeError


class ConfigError(LstmSeError, ValueError):
    """A config file or override that does not fit the schema."""


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class DsetConfig:
    """Data: where the corpus is, how audio becomes features, where records go."""

    wav: str = _doc("root of a corpus in the VoiceBank-DEMAND layout", default="demo/corpus")
    trainset: Literal["28spk", "56spk"] = _doc(
        "which VoiceBank-DEMAND training set to use (never merged)", default="28spk"
    )
    split: float = _doc(
        "share of training speakers used for training; the rest validate", default=0.9
    )
    sample_rate: int = _doc(
        "model sample rate in Hz; other rates are resampled (soxr HQ)", default=16000
    )
    segment: float = _doc("length of one training segment in seconds", default=2.0)
    n_fft: int = _doc("FFT size in samples", default=512)
    win_length: int = _doc("analysis window length in samples (periodic Hann)", default=512)
    hop_length: int = _doc("hop between frames in samples", default=256)
    channels: int = _doc("channels the model sees; only mono (1) is supported", default=1)
    top_db: float = _doc(
        "a clean file whose peak is more than this many dB below full scale counts as silent",
        default=60.0,
    )
    fft: bool = _doc(
        "store STFT features in the records (true) or raw samples (false)", default=True
    )
    center: bool = _doc(
        "pad n_fft//2 on both sides before framing (false: causal framing for streaming)",
        default=False,
    )
    save_path: str = _doc(
        "folder where prepare writes the sharded TFRecords", default="demo/records"
    )
    fft_normalize: bool = _doc("divide STFT values by n_fft", default=True)
    normalize: Literal["z-score", "linear", "none"] = _doc(
        "waveform normalization with the noisy input's statistics (undone after enhancement)",
        default="z-score",
    )
    segment_normalization: bool = _doc(
        "normalize each segment on its own (true) or each utterance (false)", default=False
    )
    feature: Literal["mag_phase", "real_imag"] = _doc(
        "how STFT features are stored when fft is true", default="mag_phase"
    )
    stereo: Literal["downmix", "error"] = _doc(
        "what to do with a multi-channel file: average the channels, or fail", default="downmix"
    )
    short: Literal["pad", "skip"] = _doc(
        "a file shorter than one segment: zero-pad it to one segment, or skip it", default="pad"
    )
    max_skipped: float = _doc(
        "prepare fails when more than this share of the pairs is skipped", default=0.05
    )
    mixing: Literal["fixed", "dynamic"] = _doc(
        "fixed: the corpus' own noisy/clean pairs cut into segments, the same every epoch (the "
        "seed's way); dynamic: records hold whole utterances of clean speech and noise (noisy - "
        "clean) and every epoch mixes new examples: random crop, SNR, level and noise (remix.py)",
        default="fixed",
    )
    remix_snr: tuple[float, float] = _doc(
        "dynamic mixing: range [low, high] in dB of the SNR, drawn uniformly", default=(-5.0, 20.0)
    )
    remix_level: tuple[float, float] = _doc(
        "dynamic mixing: range [low, high] of the clean speech's active level in dBFS, drawn "
        "uniformly",
        default=(-45.0, -10.0),
    )
    remix_eq_db: float = _doc(
        "dynamic mixing: largest gain in dB of a random smooth EQ drawn per example, one for the "
        "speech (target included) and one for the noise, so the spectra the model meets are not "
        "only those of the corpus' microphones and noise files (a sum of three cosines over "
        "frequency, each weight uniform in +-eq/3); 0: off",
        default=0.0,
    )
    shard_mb: float = _doc("target size of one TFRecord shard in MB", default=64.0)
    workers: int = _doc("processes for prepare; 0 means all cores", default=0)


@dataclass(frozen=True)
class MixConfig:
    """Corpus maker (`lstm-se mix` and `lstm-se demo-data`): speech + noise -> VoiceBank layout."""

    train_snrs: tuple[float, ...] = _doc(
        "SNRs in dB of the training mixtures", default=(0.0, 5.0, 10.0, 15.0)
    )
    test_snrs: tuple[float, ...] = _doc(
        "SNRs in dB of the test mixtures", default=(2.5, 7.5, 12.5, 17.5)
    )
    test_speakers: float = _doc("share of speakers held out for the test set", default=0.2)
    test_noises: float = _doc("share of noise files held out for the test set", default=0.3)
    mixtures_per_utterance: int = _doc(
        "noisy versions made of each training utterance (each its own noise and SNR)", default=1
    )
    sample_rate: int = _doc(
        "sample rate of the written corpus in Hz (VoiceBank is 48000)", default=48000
    )
    peak: float = _doc(
        "largest allowed absolute sample; a louder mixture is scaled down", default=0.99
    )
    reverb: float = _doc(
        "share (0..1) of mixtures whose speech is convolved with a simulated room impulse "
        "response; the reverberant speech is also the clean target",
        default=0.0,
    )
    rt60: tuple[float, float] = _doc(
        "range [low, high] in seconds of the reverberation time of a reverberant mixture, drawn "
        "uniformly",
        default=(0.2, 0.8),
    )
    babble: float = _doc(
        "share (0..1) of mixtures whose noise is babble (other speakers of the same set) instead "
        "of a noise file",
        default=0.0,
    )
    babble_talkers: tuple[int, int] = _doc(
        "range [low, high] of the number of talkers in a babble, inclusive", default=(3, 6)
    )
    seed: int = _doc("random seed of the mixer", default=1234)


@dataclass(frozen=True)
class ModelConfig:
    """The LSTM mask model."""

    name: str = _doc("model name, used in run names and exports", default="lstm")
    lstm_layer: int | None = _doc(
        "legacy seed key: the number of LSTM units; use model.units instead", default=None
    )
    layers: int = _doc("number of stacked unidirectional LSTM layers", default=2)
    units: int = _doc("units per LSTM layer", default=128)
    n_feature: int = _doc("frequency bins of the input, n_fft // 2 + 1", default=257)
    n_segment: int = _doc("frames per training segment; 0 derives it from dset.segment", default=0)
    n_mels: int = _doc("mel bands of the input projection; 0 feeds the linear bins", default=0)
    f_min: float = _doc("lowest mel frequency in Hz", default=0.0)
    f_max: float = _doc("highest mel frequency in Hz; 0 means sample_rate / 2", default=0.0)
    compression: Literal["none", "power", "log1p"] = _doc(
        "input magnitude compression", default="power"
    )
    compression_power: float = _doc(
        "exponent of the power-law compression (TinyLSTM: 0.3)", default=0.3
    )
    input_norm: Literal["none", "per-bin"] = _doc(
        "per-bin: standardize the compressed input of each bin with a fixed mean and deviation "
        "measured on the training data before training (kept in the model; the streaming and "
        "exported models fold them into the first layer, so the device needs no extra step)",
        default="none",
    )
    batch_norm: bool = _doc("batch normalization after each LSTM layer", default=False)
    dense_units: int = _doc(
        "units of the relu Dense layer before the mask; 0 leaves it out", default=0
    )
    loss: Literal["mse", "mae", "ideal-mag", "psa", "compressed"] = _doc(
        "training loss (see losses.py)", default="compressed"
    )
    loss_norm: Literal["noisy", "none"] = _doc(
        "noisy: divide each example's loss by the noisy spectrum's energy in the loss's own "
        "domain, so loss, gradients and updates do not depend on the input level; none: raw",
        default="noisy",
    )
    metric: str = _doc("in-training metric", default="si_sdr")
    loss_power: float = _doc("power-law exponent p of the compressed loss", default=0.3)
    loss_alpha: float = _doc(
        "weight of the complex term of the compressed loss (1 - alpha: magnitude)", default=0.3
    )
    cell_clip: float = _doc(
        "bound of every LSTM cell state, clipped to [-cell_clip, cell_clip] at each step in "
        "training and in the exported model (0: unbounded); a recipe option for int8 export",
        default=0.0,
    )
    mask_floor: float = _doc(
        "lowest gain of the mask, in [0, 1): the mask is floor + (1 - floor) * sigmoid, so "
        "no bin is cut by more than 20*log10(floor) dB (against over-suppression); 0: off",
        default=0.0,
    )
    path: str = _doc("a .keras model to start from (empty: new weights)", default="")
    ckpt: str = _doc("a checkpoint to load weights from (empty: none)", default="")


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer."""

    name: Literal["adam", "adamw", "sgd"] = _doc("optimizer", default="adam")
    lr: float = _doc("learning rate", default=1e-3)
    epsilon: float = _doc(
        "epsilon of Adam/AdamW; keep it well below the gradients' scale (the run's summary "
        "reports the real update against the learning rate)",
        default=1e-7,
    )
    clipnorm: float = _doc(
        "clip the gradient norm to this value; 0 turns clipping off", default=1.0
    )
    schedule: Literal["constant", "cosine", "plateau"] = _doc(
        "learning-rate schedule", default="constant"
    )
    min_lr: float = _doc("lowest learning rate of the cosine or plateau schedule", default=1e-5)
    warmup_steps: int = _doc(
        "steps of linear warm-up from min_lr to lr before the cosine schedule", default=0
    )
    weight_decay: float = _doc("decoupled weight decay (adamw only)", default=0.0)
    plateau_patience: int = _doc(
        "epochs without val_loss improvement before the plateau schedule cuts the rate", default=3
    )
    plateau_factor: float = _doc("factor the plateau schedule multiplies the rate by", default=0.5)


@dataclass(frozen=True)
class TrainConfig:
    """Training run."""

    name: str = _doc("run folder name under `folder`; empty: a timestamp", default="")
    strategy: Literal["default", "mirrored", "multi_worker"] = _doc(
        "tf.distribute strategy; multi_worker reads TF_CONFIG", default="default"
    )
    patience: int = _doc(
        "early stopping patience in epochs; 0 turns early stopping off", default=10
    )
    eval_every: int = _doc(
        "epochs between PESQ/STOI validation scores; 0 turns them off", default=0
    )
    eval_clips: int = _doc("validation clips scored by PESQ/STOI", default=8)
    audio_every: int = _doc(
        "epochs between TensorBoard audio and spectrogram logs; 0: off", default=1
    )
    valid_steps: int = _doc("validation batches per epoch; 0 uses the whole split", default=0)
    shuffle_buffer: int = _doc("examples in the tf.data shuffle buffer", default=2048)


@dataclass(frozen=True)
class Config:
    """Everything one pipeline run needs."""

    dset: DsetConfig = _doc("data and features", default_factory=DsetConfig)
    mix: MixConfig = _doc("corpus maker", default_factory=MixConfig)
    model: ModelConfig = _doc("model", default_factory=ModelConfig)
    optim: OptimConfig = _doc("optimizer", default_factory=OptimConfig)
    train: TrainConfig = _doc("training run", default_factory=TrainConfig)
    seed: int = _doc("random seed for everything seeded", default=42)
    batch_size: int = _doc("global batch size (split across replicas)", default=32)
    steps: int = _doc("training steps per epoch; 0 runs through the split once", default=0)
    epochs: int = _doc("training epochs", default=10)
    folder: str = _doc("folder that holds the runs", default="result")
    debug: bool = _doc("verbose logging and TensorFlow messages", default=False)


@dataclass(frozen=True)
class Derived:
    """Values computed from the config; the one place they are computed."""

    n_bins: int
    """Frequency bins of one STFT frame, n_fft // 2 + 1."""
    segment_samples: int
    """Samples in one training segment at dset.sample_rate."""
    frames_per_segment: int
    """STFT frames of one segment with the configured framing."""
    n_units: int
    """LSTM units per layer after the legacy `lstm_layer` alias is applied."""
    f_max: float
    """Highest mel frequency in Hz (sample_rate / 2 when the config says 0)."""
