/*
 * Size probe: the DSP part linked alone (init, reset, process; a model stub), to be set
 * against the same program built with -DLSTM_SE_SIZE_BASELINE (no DSP). The difference of
 * their text/data/bss is what lstm_se.c and CMSIS-DSP, with the libm they pull in, cost.
 */
#include "lstm_se.h"

void lstm_se_semihost_exit(int status) {
  (void)status;
  for (;;) {
  }
}

#ifndef LSTM_SE_SIZE_BASELINE
static int stub(void *user, const lstm_se_q *features, const lstm_se_q *state_in,
                lstm_se_q *mask, lstm_se_q *state_out) {
  (void)user, (void)features, (void)state_in, (void)mask, (void)state_out;
  return 0;
}

static lstm_se_t st;
static float buf[LSTM_SE_DSP_HOP];

int main(void) {
  if (lstm_se_init(&st, stub, 0) != LSTM_SE_OK) return 1;
  return lstm_se_process(&st, buf, LSTM_SE_DSP_HOP, buf) != LSTM_SE_OK;
}
#else
int main(void) { return 0; }
#endif
