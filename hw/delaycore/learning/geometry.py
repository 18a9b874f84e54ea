"""Sizes and datapath widths of the learning engine, derived once from the core configuration
(docs/learning.md, section 6.1: "widths follow the configuration"); every part of the engine
(`learner_memories`, `learner_registers`, `learner_datapath`, `learner_sequencer`) reads them
here instead of recomputing them."""

from corespec.config import CoreConfig, clog2


class LearnerGeometry:
    """The network the engine learns on, in the spec's names (docs/learning.md, section 2):
    layer L (the last LIF layer, `n_L` neurons) with its readout (`n_out`), pair R; and, with two
    LIF layers or more, layer L-1 (`n_P` neurons) and pair H."""

    def __init__(self, config: CoreConfig):
        sizes = config.sizes
        self.config = config
        self.n_L, self.n_out = sizes[-1], config.n_out
        self.has_H = len(sizes) >= 2
        self.n_P = sizes[-2] if self.has_H else 0
        self.n_S = self.n_P * self.n_L                   # pair H's synapses
        # Core layer numbers of the readback and load ports.
        self.layer_L, self.readout = len(sizes) - 1, len(sizes)
        self.depth, self.per_word = config.depth, config.weights_per_word
        self.weight_bits, self.v_bits = config.weight_bits, config.v_bits
        self.w_min, self.w_max = config.weight_range
        self.delay_bits = max(1, clog2(self.depth))
        # |L_k| <= n_out * 2^(weight_bits-1): the learning signal of pair H.
        self.signal_bits = self.weight_bits + clog2(self.n_out + 1) + 1
        # Pair R's state memory: word Cat(j, field), j in j_bits.
        self.j_bits = max(1, (self.n_L - 1).bit_length())
        self.state_R_depth = 4 << self.j_bits
        # Loop counters: rows / columns (outer, inner) and the flat index f of a walk.
        self.max_rows = max(self.n_out, self.n_L, self.n_P, 1)
        self.max_f = max(self.n_S, self.n_L * self.n_out, self.n_out, self.n_L, self.n_P,
                         self.state_R_depth, 1)
        # The bits of the core's readback word the engine computes from.
        self.response_bits = max(self.per_word * self.weight_bits, self.depth, self.v_bits,
                                 self.delay_bits)
        self._learn_widths()

    def _learn_widths(self):
        """Widths of LEARN's products and sums, from their exact bounds: |L_k| <= n_out
        2^(wb-1), |w| <= 2^(wb-1), elig_w < 2^16, |elig_d| <= 2^15."""
        half = 1 << (self.weight_bits - 1)
        L_max = self.n_out * half if self.has_H else 1
        g_max = L_max * ((1 << 16) - 1)                  # L_k * elig_w
        lw_max = L_max * half                            # L_k * w
        gt_max = lw_max * (1 << 15)                      # L_k * w * elig_d
        G_max = gt_max * max(self.n_L if self.has_H else 1, self.n_out)
        (self.g_bits, self.lw_bits, self.gt_bits,
         self.G_bits) = (x.bit_length() + 1 for x in (g_max, lw_max, gt_max, G_max))
        # The step, saturated: |step| > w_max - w_min is as good as any.
        self.step_bits = self.weight_bits + 2

    @property
    def ternary_R_only(self) -> bool:
        """Ternary weights and pair R only: `L_k * w` is -1, 0 or +1, so G adds +-elig_d."""
        return self.config.ternary and not self.has_H
