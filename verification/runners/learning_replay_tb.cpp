// Stand-alone Verilator driver of LearningNetwork for verification/runners/learning_replay.py (no Python per cycle).
//
// usage: Vreplay OPS LOG n_outputs n_responses max_idle_cycles [valid_p ready_p seed]
// Runs until all operations are taken and n_outputs output items and n_responses readback
// responses have come out, or until nothing moved at any port for max_idle_cycles.
// OPS: one operation a line, "K HEX":
//   L load word (91 bits), I input event, Y label, R readback request; in lower case the same,
//   but its acceptance is not logged.
// The operations are presented one after another on their streams, each held until it is taken
// (with probability valid_p a cycle a new one is presented: random valid gaps); o and rb_resp are
// ready with probability ready_p. LOG gets, in cycle order: "A k c" when operation k (counting
// from 0) in upper case is taken at cycle c, "O c HEX" for every output item taken, "R HEX" for
// every readback response; last "END c status" (status 0: all expected outputs and responses
// seen; 1: stalled).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "Vlearning_top.h"
#include "verilated.h"

// Verilator spells the Amaranth port names `x__valid` as `x___05Fvalid`.

struct Op {
    char kind;
    bool log;
    uint32_t w[3];
};

static uint64_t rng_state = 88172645463325252ull;
static double urand() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static void parse_hex(const char *s, uint32_t w[3]) {
    w[0] = w[1] = w[2] = 0;
    size_t n = strlen(s);
    for (size_t k = 0; k < n; k++) {      // from the least significant digit
        char c = s[n - 1 - k];
        uint32_t v = (c >= '0' && c <= '9') ? c - '0' : (c | 32) - 'a' + 10;
        w[k / 8] |= v << (4 * (k % 8));
    }
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s OPS LOG n_outputs n_responses max_idle [valid_p ready_p seed]\n", argv[0]);
        return 2;
    }
    long want_out = atol(argv[3]), want_resp = atol(argv[4]), max_idle = atol(argv[5]);
    double valid_p = argc > 6 ? atof(argv[6]) : 1.0, ready_p = argc > 7 ? atof(argv[7]) : 1.0;
    if (argc > 8) rng_state ^= strtoull(argv[8], nullptr, 10) * 0x9E3779B97F4A7C15ull;
    FILE *fo = fopen(argv[1], "r");
    if (!fo) { perror(argv[1]); return 2; }
    std::vector<Op> ops;
    char kind[4], hex[64];
    while (fscanf(fo, "%3s %63s", kind, hex) == 2) {
        Op op;
        op.kind = kind[0];
        op.log = op.kind >= 'A' && op.kind <= 'Z';
        op.kind &= ~32;
        parse_hex(hex, op.w);
        ops.push_back(op);
    }
    fclose(fo);
    FILE *log = fopen(argv[2], "w");
    if (!log) { perror(argv[2]); return 2; }
    static char buf[1 << 22];
    setvbuf(log, buf, _IOFBF, sizeof buf);

    Verilated::commandArgs(argc, argv);
    Vlearning_top *top = new Vlearning_top;
    top->clk = 0;
    top->rst = 1;
    top->i___05Fvalid = top->load___05Fvalid = top->rb_req___05Fvalid = top->label___05Fvalid = 0;
    top->o___05Fready = top->rb_resp___05Fready = 0;
    for (int k = 0; k < 4; k++) {
        top->clk = 0; top->eval();
        top->clk = 1; top->eval();
    }
    top->rst = 0;

    uint64_t cycle = 0, idle = 0;
    long n_out = 0, n_resp = 0;
    size_t next = 0;
    bool presenting = false;
    int status = 0;
    while (true) {
        if (next >= ops.size() && n_out >= want_out && n_resp >= want_resp) break;
        if (idle > (uint64_t)max_idle) { status = 1; break; }
        top->clk = 0;
        top->i___05Fvalid = top->load___05Fvalid = top->rb_req___05Fvalid = top->label___05Fvalid = 0;
        if (next < ops.size() && !presenting && (valid_p >= 1.0 || urand() < valid_p))
            presenting = true;
        if (presenting) {
            const Op &op = ops[next];
            switch (op.kind) {
            case 'L':
                top->load___05Fpayload[0] = op.w[0];
                top->load___05Fpayload[1] = op.w[1];
                top->load___05Fpayload[2] = op.w[2];
                top->load___05Fvalid = 1;
                break;
            case 'I': top->i___05Fpayload = op.w[0]; top->i___05Fvalid = 1; break;
            case 'Y': top->label___05Fpayload = op.w[0]; top->label___05Fvalid = 1; break;
            case 'R': top->rb_req___05Fpayload = op.w[0]; top->rb_req___05Fvalid = 1; break;
            default: fprintf(stderr, "bad op %c\n", op.kind); return 2;
            }
        }
        top->o___05Fready = (ready_p >= 1.0 || urand() < ready_p);
        top->rb_resp___05Fready = (ready_p >= 1.0 || urand() < ready_p);
        top->eval();
        bool taken = false;
        if (presenting) {
            switch (ops[next].kind) {
            case 'L': taken = top->load___05Fready; break;
            case 'I': taken = top->i___05Fready; break;
            case 'Y': taken = top->label___05Fready; break;
            case 'R': taken = top->rb_req___05Fready; break;
            }
        }
        bool out_fire = top->o___05Fvalid && top->o___05Fready;
        bool resp_fire = top->rb_resp___05Fvalid && top->rb_resp___05Fready;
        uint64_t out_word = out_fire ? (uint64_t)top->o___05Fpayload : 0;
        uint64_t resp_word = resp_fire ? (uint64_t)top->rb_resp___05Fpayload : 0;
        top->clk = 1;
        top->eval();
        if (taken) {
            if (ops[next].log) fprintf(log, "A %zu %llu\n", next, (unsigned long long)cycle);
            next++;
            presenting = false;
        }
        if (out_fire) { fprintf(log, "O %llu %llx\n", (unsigned long long)cycle, (unsigned long long)out_word); n_out++; }
        if (resp_fire) { fprintf(log, "R %llx\n", (unsigned long long)resp_word); n_resp++; }
        idle = (taken || out_fire || resp_fire) ? 0 : idle + 1;
        cycle++;
    }
    fprintf(log, "END %llu %d\n", (unsigned long long)cycle, status);
    fclose(log);
    top->final();
    delete top;
    return status;
}
