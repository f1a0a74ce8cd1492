/*
 * Minimal Cortex-M7 start-up for qemu's mps2-an500: a vector table with the initial stack
 * and the reset handler, which turns the FPU on (the build uses hard-float instructions),
 * copies .data, clears .bss and calls main. No interrupts are used.
 */
#include <stdint.h>

extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start, __bss_end;
int main(void);
void lstm_se_semihost_exit(int status);
void Reset_Handler(void);
void Default_Handler(void);

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&__stack_top), Reset_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0, Default_Handler,
    Default_Handler, 0, Default_Handler, Default_Handler,
};

void Default_Handler(void) { lstm_se_semihost_exit(3); }

void Reset_Handler(void) {
  volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
  uint32_t *src = &__data_load, *dst = &__data_start;
  *cpacr |= 0xFu << 20; /* CP10 and CP11 full access: the FPU */
  __asm volatile("dsb\n isb" ::: "memory");
  while (dst < &__data_end) *dst++ = *src++;
  for (dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;
  lstm_se_semihost_exit(main());
}
