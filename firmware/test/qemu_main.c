/*
 * The DSP part on qemu's mps2-an500 (Cortex-M7) with the stand-in model, through
 * semihosting: reads lstm_se_in.f32 (float32 samples, a whole number of hops) from qemu's
 * working directory, writes lstm_se_out.f32 (the output hops), lstm_se_features.q (each
 * frame's model input, lstm_se_q) and lstm_se_ticks.u32 (SysTick ticks of each lstm_se_process
 * call), then prints the ticks of a calibration loop of known length. Run under
 * `-icount shift=0` (one instruction per virtual nanosecond), ticks convert to instructions.
 */
#include <stdint.h>
#include <string.h>

#include "lstm_se.h"

int lstm_se_standin_model(void *user, const lstm_se_q *features, const lstm_se_q *state_in,
                          lstm_se_q *mask, lstm_se_q *state_out);

static int semihost(int op, void *arg) {
  register int r0 __asm("r0") = op;
  register void *r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void lstm_se_semihost_exit(int status) {
  /* SYS_EXIT with ADP_Stopped_ApplicationExit (0) or RunTimeErrorUnknown (qemu exits 1). */
  semihost(0x18, (void *)(uintptr_t)(status == 0 ? 0x20026 : 0x20023));
  for (;;) {
  }
}

static int sh_open(const char *name, int mode) {
  uint32_t args[3] = {(uint32_t)(uintptr_t)name, (uint32_t)mode, (uint32_t)strlen(name)};
  return semihost(0x01, args); /* SYS_OPEN; mode 1 "rb", 5 "wb" */
}

static int sh_read(int fd, void *buf, uint32_t len) {
  uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, len};
  return semihost(0x06, args); /* bytes NOT read */
}

static int sh_write(int fd, const void *buf, uint32_t len) {
  uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, len};
  return semihost(0x05, args); /* bytes NOT written */
}

static void sh_print(const char *s) { semihost(0x04, (void *)s); /* SYS_WRITE0 */ }

static void print_u32(const char *label, uint32_t v) {
  char buf[16];
  int i = 15;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v && i > 0);
  sh_print(label);
  sh_print(buf + i);
  sh_print("\n");
}

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define TICK_MASK 0xFFFFFFu

static uint32_t ticks(void) { return SYST_CVR; }
static uint32_t elapsed(uint32_t start, uint32_t end) { return (start - end) & TICK_MASK; }

#define CALIBRATION_LOOPS 1000000u

static lstm_se_t st;
static float hop_in[LSTM_SE_DSP_HOP], hop_out[LSTM_SE_DSP_HOP];
static lstm_se_q features[LSTM_SE_DSP_N_BINS];

int main(void) {
  uint32_t t0, t1, n = CALIBRATION_LOOPS, frames = 0;
  int fin, fout, ffeat, fticks, rc;
  SYST_RVR = TICK_MASK;
  SYST_CVR = 0;
  SYST_CSR = 5u; /* enable, processor clock, no interrupt */

  /* Two instructions per loop (subs, bne): ticks per 2 * n instructions. */
  t0 = ticks();
  __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n));
  t1 = ticks();
  print_u32("calibration_instructions ", 2u * CALIBRATION_LOOPS);
  print_u32("calibration_ticks ", elapsed(t0, t1));

  fin = sh_open("lstm_se_in.f32", 1);
  fout = sh_open("lstm_se_out.f32", 5);
  ffeat = sh_open("lstm_se_features.q", 5);
  fticks = sh_open("lstm_se_ticks.u32", 5);
  if (fin < 0 || fout < 0 || ffeat < 0 || fticks < 0) return 2;
  rc = lstm_se_init(&st, lstm_se_standin_model, features);
  if (rc != LSTM_SE_OK) return 3;
  while (sh_read(fin, hop_in, sizeof(hop_in)) == 0) {
    uint32_t dt;
    t0 = ticks();
    rc = lstm_se_process(&st, hop_in, LSTM_SE_DSP_HOP, hop_out);
    t1 = ticks();
    if (rc != LSTM_SE_OK) return 4;
    dt = elapsed(t0, t1);
    if (sh_write(fout, hop_out, sizeof(hop_out)) || sh_write(ffeat, features, sizeof(features)) ||
        sh_write(fticks, &dt, sizeof(dt)))
      return 5;
    frames++;
  }
  print_u32("frames ", frames);
  print_u32("state_bytes ", (uint32_t)sizeof(st));
  return 0;
}
