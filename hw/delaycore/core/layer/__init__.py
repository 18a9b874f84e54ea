"""One time-multiplexed LIF layer (docs/core.md, sections 2 and 6) built from its pipeline stages:
the issue `Sequencer`, `OpPipeline`, `WeightStage`, `NeuronMemories`, `Accumulate`,
`UpdateLanes`, `EmitStage`, `RecurrentQueue`, `PortDecoder`, `LayerRegisters`, joined by the
Signatures of `signatures`. The input delay stage reuses the sequencer, pipeline, emit stage and
port decoder."""

from delaycore.core.layer.layer import Layer

__all__ = ["Layer"]
