from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChannelSettings(_message.Message):
    __slots__ = ("model", "snr_db", "block_len", "csi", "seed", "params", "csi_mode")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SNR_DB_FIELD_NUMBER: _ClassVar[int]
    BLOCK_LEN_FIELD_NUMBER: _ClassVar[int]
    CSI_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CSI_MODE_FIELD_NUMBER: _ClassVar[int]
    model: str
    snr_db: float
    block_len: int
    csi: bool
    seed: int
    params: _containers.ScalarMap[str, float]
    csi_mode: str
    def __init__(self, model: _Optional[str] = ..., snr_db: _Optional[float] = ..., block_len: _Optional[int] = ..., csi: _Optional[bool] = ..., seed: _Optional[int] = ..., params: _Optional[_Mapping[str, float]] = ..., csi_mode: _Optional[str] = ...) -> None: ...

class SymbolBlock(_message.Message):
    __slots__ = ("offset", "values")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    offset: int
    values: bytes
    def __init__(self, offset: _Optional[int] = ..., values: _Optional[bytes] = ...) -> None: ...

class SendRequest(_message.Message):
    __slots__ = ("image", "task", "channel", "diffusion_steps", "transmission_id")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DIFFUSION_STEPS_FIELD_NUMBER: _ClassVar[int]
    TRANSMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    task: str
    channel: ChannelSettings
    diffusion_steps: int
    transmission_id: str
    def __init__(self, image: _Optional[bytes] = ..., task: _Optional[str] = ..., channel: _Optional[_Union[ChannelSettings, _Mapping]] = ..., diffusion_steps: _Optional[int] = ..., transmission_id: _Optional[str] = ...) -> None: ...

class SendReply(_message.Message):
    __slots__ = ("transmission_id", "task", "score", "channel_uses", "cbr", "realised_snr_db", "timings_s", "height", "width", "pilot_uses")
    class TimingsSEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRANSMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_USES_FIELD_NUMBER: _ClassVar[int]
    CBR_FIELD_NUMBER: _ClassVar[int]
    REALISED_SNR_DB_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_S_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    PILOT_USES_FIELD_NUMBER: _ClassVar[int]
    transmission_id: str
    task: str
    score: float
    channel_uses: int
    cbr: float
    realised_snr_db: float
    timings_s: _containers.ScalarMap[str, float]
    height: int
    width: int
    pilot_uses: int
    def __init__(self, transmission_id: _Optional[str] = ..., task: _Optional[str] = ..., score: _Optional[float] = ..., channel_uses: _Optional[int] = ..., cbr: _Optional[float] = ..., realised_snr_db: _Optional[float] = ..., timings_s: _Optional[_Mapping[str, float]] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., pilot_uses: _Optional[int] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TaskInfo(_message.Message):
    __slots__ = ("name", "instructions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    instructions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., instructions: _Optional[_Iterable[str]] = ...) -> None: ...

class ListTasksReply(_message.Message):
    __slots__ = ("tasks", "kb_fingerprint", "threshold")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    KB_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskInfo]
    kb_fingerprint: str
    threshold: float
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskInfo, _Mapping]]] = ..., kb_fingerprint: _Optional[str] = ..., threshold: _Optional[float] = ...) -> None: ...

class TransmissionHeader(_message.Message):
    __slots__ = ("transmission_id", "task", "grid_c", "grid_h", "grid_w", "image_height", "image_width", "channel", "diffusion_steps", "kb_fingerprint", "score", "timings_s", "power_scale", "linear_allocation", "dct_means", "dct_chunks", "dct_variance_codes")
    class TimingsSEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRANSMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    GRID_C_FIELD_NUMBER: _ClassVar[int]
    GRID_H_FIELD_NUMBER: _ClassVar[int]
    GRID_W_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DIFFUSION_STEPS_FIELD_NUMBER: _ClassVar[int]
    KB_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_S_FIELD_NUMBER: _ClassVar[int]
    POWER_SCALE_FIELD_NUMBER: _ClassVar[int]
    LINEAR_ALLOCATION_FIELD_NUMBER: _ClassVar[int]
    DCT_MEANS_FIELD_NUMBER: _ClassVar[int]
    DCT_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    DCT_VARIANCE_CODES_FIELD_NUMBER: _ClassVar[int]
    transmission_id: str
    task: str
    grid_c: int
    grid_h: int
    grid_w: int
    image_height: int
    image_width: int
    channel: ChannelSettings
    diffusion_steps: int
    kb_fingerprint: str
    score: float
    timings_s: _containers.ScalarMap[str, float]
    power_scale: float
    linear_allocation: _containers.RepeatedScalarFieldContainer[float]
    dct_means: _containers.RepeatedScalarFieldContainer[float]
    dct_chunks: _containers.RepeatedScalarFieldContainer[int]
    dct_variance_codes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, transmission_id: _Optional[str] = ..., task: _Optional[str] = ..., grid_c: _Optional[int] = ..., grid_h: _Optional[int] = ..., grid_w: _Optional[int] = ..., image_height: _Optional[int] = ..., image_width: _Optional[int] = ..., channel: _Optional[_Union[ChannelSettings, _Mapping]] = ..., diffusion_steps: _Optional[int] = ..., kb_fingerprint: _Optional[str] = ..., score: _Optional[float] = ..., timings_s: _Optional[_Mapping[str, float]] = ..., power_scale: _Optional[float] = ..., linear_allocation: _Optional[_Iterable[float]] = ..., dct_means: _Optional[_Iterable[float]] = ..., dct_chunks: _Optional[_Iterable[int]] = ..., dct_variance_codes: _Optional[_Iterable[int]] = ...) -> None: ...

class TransmitChunk(_message.Message):
    __slots__ = ("header", "symbols")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    header: TransmissionHeader
    symbols: SymbolBlock
    def __init__(self, header: _Optional[_Union[TransmissionHeader, _Mapping]] = ..., symbols: _Optional[_Union[SymbolBlock, _Mapping]] = ...) -> None: ...

class TransmitReply(_message.Message):
    __slots__ = ("realised_snr_db", "channel_s")
    REALISED_SNR_DB_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_S_FIELD_NUMBER: _ClassVar[int]
    realised_snr_db: float
    channel_s: float
    def __init__(self, realised_snr_db: _Optional[float] = ..., channel_s: _Optional[float] = ...) -> None: ...

class NegotiateRequest(_message.Message):
    __slots__ = ("task", "transmission_id")
    TASK_FIELD_NUMBER: _ClassVar[int]
    TRANSMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    task: str
    transmission_id: str
    def __init__(self, task: _Optional[str] = ..., transmission_id: _Optional[str] = ...) -> None: ...

class NegotiateReply(_message.Message):
    __slots__ = ("task", "score", "kb_fingerprint")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    KB_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    task: str
    score: float
    kb_fingerprint: str
    def __init__(self, task: _Optional[str] = ..., score: _Optional[float] = ..., kb_fingerprint: _Optional[str] = ...) -> None: ...

class DeliverChunk(_message.Message):
    __slots__ = ("header", "y", "h", "noise_var", "realised_snr_db")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    H_FIELD_NUMBER: _ClassVar[int]
    NOISE_VAR_FIELD_NUMBER: _ClassVar[int]
    REALISED_SNR_DB_FIELD_NUMBER: _ClassVar[int]
    header: TransmissionHeader
    y: SymbolBlock
    h: SymbolBlock
    noise_var: float
    realised_snr_db: float
    def __init__(self, header: _Optional[_Union[TransmissionHeader, _Mapping]] = ..., y: _Optional[_Union[SymbolBlock, _Mapping]] = ..., h: _Optional[_Union[SymbolBlock, _Mapping]] = ..., noise_var: _Optional[float] = ..., realised_snr_db: _Optional[float] = ...) -> None: ...

class DeliverReply(_message.Message):
    __slots__ = ("queue_position",)
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    queue_position: int
    def __init__(self, queue_position: _Optional[int] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("after_sequence", "epoch")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    epoch: str
    def __init__(self, after_sequence: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class GetResultRequest(_message.Message):
    __slots__ = ("transmission_id", "accepted")
    TRANSMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    transmission_id: str
    accepted: bool
    def __init__(self, transmission_id: _Optional[str] = ..., accepted: _Optional[bool] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("transmission_id", "sequence", "task", "score", "channel", "realised_snr_db", "channel_uses", "cbr", "height", "width", "image_png", "labels_png", "colour_png", "class_names", "timings_s", "diffusion_steps", "error", "epoch", "pilot_uses")
    class TimingsSEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRANSMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REALISED_SNR_DB_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_USES_FIELD_NUMBER: _ClassVar[int]
    CBR_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PNG_FIELD_NUMBER: _ClassVar[int]
    LABELS_PNG_FIELD_NUMBER: _ClassVar[int]
    COLOUR_PNG_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_S_FIELD_NUMBER: _ClassVar[int]
    DIFFUSION_STEPS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    PILOT_USES_FIELD_NUMBER: _ClassVar[int]
    transmission_id: str
    sequence: int
    task: str
    score: float
    channel: ChannelSettings
    realised_snr_db: float
    channel_uses: int
    cbr: float
    height: int
    width: int
    image_png: bytes
    labels_png: bytes
    colour_png: bytes
    class_names: _containers.RepeatedScalarFieldContainer[str]
    timings_s: _containers.ScalarMap[str, float]
    diffusion_steps: int
    error: str
    epoch: str
    pilot_uses: int
    def __init__(self, transmission_id: _Optional[str] = ..., sequence: _Optional[int] = ..., task: _Optional[str] = ..., score: _Optional[float] = ..., channel: _Optional[_Union[ChannelSettings, _Mapping]] = ..., realised_snr_db: _Optional[float] = ..., channel_uses: _Optional[int] = ..., cbr: _Optional[float] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., image_png: _Optional[bytes] = ..., labels_png: _Optional[bytes] = ..., colour_png: _Optional[bytes] = ..., class_names: _Optional[_Iterable[str]] = ..., timings_s: _Optional[_Mapping[str, float]] = ..., diffusion_steps: _Optional[int] = ..., error: _Optional[str] = ..., epoch: _Optional[str] = ..., pilot_uses: _Optional[int] = ...) -> None: ...
