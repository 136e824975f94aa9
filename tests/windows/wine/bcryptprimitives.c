/* Wine 8 (Debian 12) has no bcryptprimitives.dll, which Windows has had since 8:
 * Rust's standard library (pyrage >= 1.2) imports ProcessPrng from it for randomness,
 * so the import of pyrage fails under Wine 8 ("DLL load failed"). For the Windows
 * tests only, this stand-in is put in the test Wine prefix's system32 (never in the
 * bundle): ProcessPrng answers from the system RNG, BCryptGenRandom, which Wine has.
 * Wine 9.1 and later ship the real one. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}
