/* A stand-in for Windows' bcryptprimitives.dll, for running vault-ci.exe under
 * Wine 8.0 (Debian 12), which lacks the DLL. Rust's std (>= 1.78) takes its
 * random bytes from ProcessPrng there; real Windows 10 and later have it.
 * Built by scripts/build-cross.sh next to the test binary, never shipped.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *       bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom: advapi32's SystemFunction036, which Wine implements. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
