/*
 * A fixed stand-in for the model call, for runs without TFLite Micro (qemu, the float host
 * build): the mask is a fixed pattern over the bins and each state output is its input, so
 * the output depends only on the DSP part. The features of the last frame are kept in
 * `user` (an lstm_se_q[LSTM_SE_DSP_N_BINS], or NULL), so a test can compare them across
 * builds.
 */
#include <string.h>

#include "lstm_se.h"

int lstm_se_standin_model(void *user, const lstm_se_q *features, const lstm_se_q *state_in,
                          lstm_se_q *mask, lstm_se_q *state_out) {
  int i;
  for (i = 0; i < LSTM_SE_DSP_N_BINS; ++i) {
    /* Every int8 value in turn (scaled to the type), scrambled over the bins: a mask that
     * hides no bin. */
    mask[i] = (lstm_se_q)((((i * 97 + 13) & 0xFF) - 128) * ((LSTM_SE_Q_MAX + 1) / 128));
  }
  memcpy(state_out, state_in, LSTM_SE_DSP_STATE_TOTAL * sizeof(lstm_se_q));
  if (user != NULL) memcpy(user, features, LSTM_SE_DSP_N_BINS * sizeof(lstm_se_q));
  return 0;
}

/*
 * The host side of the qemu comparison: `hops` hops of `in` through a fresh stream with the
 * stand-in model; `out` gets hops * LSTM_SE_DSP_HOP samples, `features` (if not NULL)
 * hops * LSTM_SE_DSP_N_BINS lstm_se_q values. Returns the first error code, or 0.
 */
int lstm_se_standin_run(const float *in, size_t hops, float *out, lstm_se_q *features) {
  static lstm_se_t st; /* static: no heap, and too big for some stacks */
  static lstm_se_q last[LSTM_SE_DSP_N_BINS];
  size_t t;
  int rc = lstm_se_init(&st, lstm_se_standin_model, last);
  if (rc != LSTM_SE_OK) return rc;
  for (t = 0; t < hops; ++t) {
    rc = lstm_se_process(&st, in + t * LSTM_SE_DSP_HOP, LSTM_SE_DSP_HOP,
                         out + t * LSTM_SE_DSP_HOP);
    if (rc != LSTM_SE_OK) return rc;
    if (features != NULL) memcpy(features + t * LSTM_SE_DSP_N_BINS, last, sizeof(last));
  }
  return LSTM_SE_OK;
}
