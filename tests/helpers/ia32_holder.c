// Test helper, built as a static freestanding i386 program (gcc -m32 -nostdlib: no 32-bit
// libc needed): a 32-bit process whose syscalls reach the kernel through int 0x80 with
// ia32 numbers, where read is 3 (close on x86-64) and close is 6 (lstat on x86-64).
//
//   ia32_holder PORT
// Connects 10 sockets to 127.0.0.1:PORT, forks a child that holds them too, prints
// "HOLDER <child>", "HOLDER <self>", "READY". After 4 s, read(fd, buf, 0) on each socket
// with edi = fd as well (what an x86-64 close reads as its fd), prints "READ". After 3 s
// more, close(fd) on each, prints "CLOSED". Exits after 60 s; the child dies with it.
#define NR_EXIT 1
#define NR_FORK 2
#define NR_READ 3
#define NR_WRITE 4
#define NR_CLOSE 6
#define NR_GETPID 20
#define NR_GETPPID 64
#define NR_PRCTL 172
#define NR_NANOSLEEP 162
#define NR_SOCKET 359
#define NR_CONNECT 362
#define COUNT 10

static long sys5(long n, long a, long b, long c, long e) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "D"(e) : "memory");
  return r;
}
static long sys3(long n, long a, long b, long c) { return sys5(n, a, b, c, 0); }

static void say(const char* text, long number) {
  char line[32];
  int n = 0;
  while (text[n]) {
    line[n] = text[n];
    ++n;
  }
  if (number >= 0) {
    char digits[12];
    int d = 0;
    do {
      digits[d++] = (char)('0' + number % 10);
      number /= 10;
    } while (number);
    line[n++] = ' ';
    while (d) line[n++] = digits[--d];
  }
  line[n++] = '\n';
  sys3(NR_WRITE, 1, (long)line, n);
}

static void sleep_ms(long ms) {
  long ts[2] = {ms / 1000, (ms % 1000) * 1000000};
  sys3(NR_NANOSLEEP, (long)ts, 0, 0);
}

static long parse(const char* s) {
  long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v;
}

static void run(long port) {
  int fds[COUNT];
  unsigned char addr[16] = {2, 0, (unsigned char)(port >> 8), (unsigned char)port, 127, 0, 0, 1};
  for (int i = 0; i < COUNT; ++i) {
    fds[i] = (int)sys3(NR_SOCKET, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
    if (fds[i] < 0 || sys3(NR_CONNECT, fds[i], (long)addr, sizeof addr) != 0) sys3(NR_EXIT, 3, 0, 0);
  }
  const long parent = sys3(NR_GETPID, 0, 0, 0);
  long child = sys3(NR_FORK, 0, 0, 0);
  if (child == 0) {
    sys3(NR_PRCTL, 1 /* PR_SET_PDEATHSIG */, 9 /* SIGKILL */, 0);
    if (sys3(NR_GETPPID, 0, 0, 0) != parent) sys3(NR_EXIT, 0, 0, 0);  // it died before the prctl
    for (;;) sleep_ms(1000);
  }
  say("HOLDER", child);
  say("HOLDER", sys3(NR_GETPID, 0, 0, 0));
  say("READY", -1);
  sleep_ms(4000);
  char buf[1];
  for (int i = 0; i < COUNT; ++i) sys5(NR_READ, fds[i], (long)buf, 0, fds[i]);
  say("READ", -1);
  sleep_ms(3000);
  for (int i = 0; i < COUNT; ++i) sys3(NR_CLOSE, fds[i], 0, 0);
  say("CLOSED", -1);
  sleep_ms(60000);
}

// The entry point: argc at the stack pointer, then argv.
__attribute__((force_align_arg_pointer)) void start_c(long* stack) {
  if (stack[0] < 2) sys3(NR_EXIT, 2, 0, 0);
  run(parse((const char*)stack[2]));
  sys3(NR_EXIT, 0, 0, 0);
}
__asm__(".globl _start\n_start:\n  mov %esp, %eax\n  push %eax\n  call start_c\n");
