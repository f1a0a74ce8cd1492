/*
 * The per-frame loop of lstm_se.h. The order of operations follows
 * src/lstm_se/enhance.py (StreamingEnhancer.push) and src/lstm_se/tflite_masker.py
 * (TFLiteMasker.__call__) step by step, so that the double build reproduces the Python path;
 * the comments name the Python line each step mirrors where the order matters.
 */
#include "lstm_se.h"

#include <math.h>
#include <string.h>

#define LSTM_SE_MAGIC 0x4C53544Du /* "LSTM" */

/* Token pasting through one more level, so that LSTM_SE_DSP_N_FFT expands first. */
#define LSTM_SE_CAT3_(a, b, c) a##b##c
#define LSTM_SE_CAT3(a, b, c) LSTM_SE_CAT3_(a, b, c)

#ifdef LSTM_SE_DSP_F64
/* Size-specific init: the generic arm_rfft_fast_init_f64 would link the tables of every size. */
#define LSTM_SE_RFFT_INIT LSTM_SE_CAT3(arm_rfft_fast_init_, LSTM_SE_DSP_N_FFT, _f64)
#define LSTM_SE_RFFT arm_rfft_fast_f64
#else
#define LSTM_SE_RFFT_INIT LSTM_SE_CAT3(arm_rfft_fast_init_, LSTM_SE_DSP_N_FFT, _f32)
#define LSTM_SE_RFFT arm_rfft_fast_f32
#endif

#define N_FFT LSTM_SE_DSP_N_FFT
#define HOP LSTM_SE_DSP_HOP
#define N_BINS LSTM_SE_DSP_N_BINS

#if HOP > N_FFT || N_BINS != N_FFT / 2 + 1
#error "lstm_se_dsp_config.h: hop must not exceed n_fft and n_bins must be n_fft / 2 + 1"
#endif

/* Stored in the precision of the build: the generated literals are doubles. */
static const lstm_se_real k_window[N_FFT] = LSTM_SE_DSP_WINDOW;
static const lstm_se_real k_inv_env[HOP] = LSTM_SE_DSP_INVERSE_ENVELOPE;
static const uint16_t k_state_offsets[LSTM_SE_DSP_N_STATES] = LSTM_SE_DSP_STATE_OFFSETS;
static const uint16_t k_state_sizes[LSTM_SE_DSP_N_STATES] = LSTM_SE_DSP_STATE_SIZES;
static const float k_state_in_scale[LSTM_SE_DSP_N_STATES] = LSTM_SE_DSP_STATE_INPUT_SCALES;
static const int32_t k_state_in_zp[LSTM_SE_DSP_N_STATES] = LSTM_SE_DSP_STATE_INPUT_ZERO_POINTS;
static const float k_state_out_scale[LSTM_SE_DSP_N_STATES] = LSTM_SE_DSP_STATE_OUTPUT_SCALES;
static const int32_t k_state_out_zp[LSTM_SE_DSP_N_STATES] = LSTM_SE_DSP_STATE_OUTPUT_ZERO_POINTS;
static const uint8_t k_state_same[LSTM_SE_DSP_N_STATES] = LSTM_SE_DSP_STATE_SAME_QUANTIZATION;

/*
 * Real value -> lstm_se_q as tflite_masker.quantize does: x / scale rounded half away from
 * zero (round() and roundf() do exactly that), plus the zero point, saturated to the type.
 * In the double build the division is in double, as numpy's is.
 */
static lstm_se_q quantize(lstm_se_real x, float scale, int32_t zero_point) {
#ifdef LSTM_SE_DSP_F64
  double q = round(x / (double)scale) + (double)zero_point;
#else
  float q = roundf(x / scale) + (float)zero_point;
#endif
  if (q < LSTM_SE_Q_MIN) return (lstm_se_q)LSTM_SE_Q_MIN;
  if (q > LSTM_SE_Q_MAX) return (lstm_se_q)LSTM_SE_Q_MAX;
  return (lstm_se_q)q;
}

/* lstm_se_q -> real as tflite_masker.dequantize does: computed wide, then rounded to float32. */
static float dequantize(lstm_se_q q, float scale, int32_t zero_point) {
  return (float)((lstm_se_real)scale * (lstm_se_real)((int32_t)q - zero_point));
}

/* The model's frontend (model.compress) on one float32 magnitude, in float32 as numpy does. */
static float compress(float mag) {
#if LSTM_SE_DSP_COMPRESSION == 1
  return powf(fmaxf(mag, LSTM_SE_DSP_POWER_FLOOR), LSTM_SE_DSP_COMPRESSION_POWER);
#elif LSTM_SE_DSP_COMPRESSION == 2
  return log1pf(mag);
#else
  return mag;
#endif
}

static lstm_se_real magnitude(lstm_se_real re, lstm_se_real im) {
#ifdef LSTM_SE_DSP_F64
  return hypot(re, im); /* numpy's abs of complex128 */
#else
  return sqrtf(re * re + im * im); /* one VSQRT on the M7; no overflow at audio levels */
#endif
}

int lstm_se_init(lstm_se_t *st, lstm_se_model_fn model, void *user) {
  if (st == NULL || model == NULL) return LSTM_SE_ERR_NULL;
  memset(st, 0, sizeof(*st));
  if (LSTM_SE_RFFT_INIT(&st->fft) != ARM_MATH_SUCCESS) return LSTM_SE_ERR_FFT;
  st->model = model;
  st->user = user;
  st->magic = LSTM_SE_MAGIC;
  return lstm_se_reset(st);
}

int lstm_se_reset(lstm_se_t *st) {
  int k;
  uint16_t i;
  if (st == NULL) return LSTM_SE_ERR_NULL;
  if (st->magic != LSTM_SE_MAGIC) return LSTM_SE_ERR_NOT_INIT;
  memset(st->history, 0, sizeof(st->history));
  memset(st->acc, 0, sizeof(st->acc));
  for (k = 0; k < LSTM_SE_DSP_N_STATES; ++k) {
    /* A real 0 quantized: the zero point (TFLiteMasker.reset). */
    lstm_se_q zero = quantize((lstm_se_real)0, k_state_in_scale[k], k_state_in_zp[k]);
    for (i = 0; i < k_state_sizes[k]; ++i) st->state[k_state_offsets[k] + i] = zero;
  }
  st->frames = 0;
  return LSTM_SE_OK;
}

int lstm_se_process(lstm_se_t *st, const float *in, size_t n, float *out) {
  int k;
  size_t i;
  if (st == NULL || in == NULL || out == NULL) return LSTM_SE_ERR_NULL;
  if (st->magic != LSTM_SE_MAGIC) return LSTM_SE_ERR_NOT_INIT;
  if (n != HOP) return LSTM_SE_ERR_LENGTH;

  /* buffer[:-hop] = buffer[hop:]; buffer[-hop:] = chunk */
  memmove(st->history, st->history + HOP, (N_FFT - HOP) * sizeof(lstm_se_real));
  for (i = 0; i < HOP; ++i) st->history[N_FFT - HOP + i] = (lstm_se_real)in[i];

  /* spec = rfft(buffer * window) */
  for (i = 0; i < N_FFT; ++i) st->work[i] = st->history[i] * k_window[i];
  LSTM_SE_RFFT(&st->fft, st->work, st->spec, 0);

  /*
   * Features: |spec / n_fft| rounded to float32 (np.abs(spec).astype(np.float32)), then
   * the frontend and the frame input's quantization. Scaling the magnitude instead of the
   * spectrum by 1/n_fft (a power of two) is exact, and leaves the spectrum as the inverse
   * FFT wants it: the Python path's "/ n" and "* n" around the mask cancel exactly.
   */
  for (i = 0; i < N_BINS; ++i) {
    lstm_se_real re, im;
    if (i == 0) {
      re = st->spec[0], im = 0;
    } else if (i == N_BINS - 1) {
      re = st->spec[1], im = 0; /* CMSIS packs the real Nyquist bin into slot 1 */
    } else {
      re = st->spec[2 * i], im = st->spec[2 * i + 1];
    }
    float mag = (float)(magnitude(re, im) * (lstm_se_real)LSTM_SE_DSP_FFT_SCALE);
    st->features[i] =
        quantize((lstm_se_real)compress(mag), LSTM_SE_DSP_FRAME_SCALE, LSTM_SE_DSP_FRAME_ZERO_POINT);
  }

  if (st->model(st->user, st->features, st->state, st->mask, st->state_out) != 0) {
    for (i = 0; i < HOP; ++i) out[i] = 0.0f;
    return LSTM_SE_ERR_MODEL;
  }

  /* Carry the state: requantized where a state output's scale differs from its input's. */
  for (k = 0; k < LSTM_SE_DSP_N_STATES; ++k) {
    uint16_t j, off = k_state_offsets[k];
    for (j = 0; j < k_state_sizes[k]; ++j) {
      lstm_se_q q = st->state_out[off + j];
      st->state[off + j] =
          k_state_same[k] ? q
                          : quantize((lstm_se_real)dequantize(q, k_state_out_scale[k],
                                                              k_state_out_zp[k]),
                                     k_state_in_scale[k], k_state_in_zp[k]);
    }
  }

  /* frame = irfft(spec * mask): the packed DC and Nyquist slots take their bins' masks. */
  st->spec[0] *= (lstm_se_real)dequantize(st->mask[0], LSTM_SE_DSP_MASK_SCALE,
                                          LSTM_SE_DSP_MASK_ZERO_POINT);
  st->spec[1] *= (lstm_se_real)dequantize(st->mask[N_BINS - 1], LSTM_SE_DSP_MASK_SCALE,
                                          LSTM_SE_DSP_MASK_ZERO_POINT);
  for (i = 1; i < N_BINS - 1; ++i) {
    lstm_se_real m = (lstm_se_real)dequantize(st->mask[i], LSTM_SE_DSP_MASK_SCALE,
                                              LSTM_SE_DSP_MASK_ZERO_POINT);
    st->spec[2 * i] *= m;
    st->spec[2 * i + 1] *= m;
  }
  LSTM_SE_RFFT(&st->fft, st->spec, st->work, 1); /* CMSIS's inverse includes the 1/n */

  /* acc += frame * window; out = acc[:hop] * inv_env; shift acc by one hop */
  for (i = 0; i < N_FFT; ++i) st->acc[i] += st->work[i] * k_window[i];
  for (i = 0; i < HOP; ++i) out[i] = (float)(st->acc[i] * k_inv_env[i]);
  memmove(st->acc, st->acc + HOP, (N_FFT - HOP) * sizeof(lstm_se_real));
  memset(st->acc + (N_FFT - HOP), 0, HOP * sizeof(lstm_se_real));
  st->frames++;
  return LSTM_SE_OK;
}

size_t lstm_se_state_size(void) { return sizeof(lstm_se_t); }

const char *lstm_se_strerror(int code) {
  switch (code) {
    case LSTM_SE_OK:
      return "ok";
    case LSTM_SE_ERR_NULL:
      return "a NULL pointer argument";
    case LSTM_SE_ERR_LENGTH:
      return "a frame is LSTM_SE_DSP_HOP samples";
    case LSTM_SE_ERR_MODEL:
      return "the model call failed";
    case LSTM_SE_ERR_NOT_INIT:
      return "not initialized: call lstm_se_init first";
    case LSTM_SE_ERR_FFT:
      return "CMSIS-DSP has no real FFT of this length";
    default:
      return "unknown return code";
  }
}
