/* wzp-qr-code.c: QR codes drawn into a texture
 *
 * libqrencode gives the modules; they are drawn here, dark on white whatever the style
 * (scanners expect dark modules on a light ground), each module an exact square of pixels,
 * so the texture is shown at its own size and never blurred by scaling.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>
#include <qrencode.h>

#include "wzp-qr-code.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QRcode, QRcode_free)

/**
 * wzp_qr_code_new_texture:
 * @text: what the code holds (UTF-8, encoded as bytes)
 * @module_px: the side of a module, in pixels
 * @n_modules: (out) (optional): the modules on a side, without the quiet zone
 *
 * Returns: (transfer full): an RGB texture with the quiet zone, or %NULL with @error set
 */
GdkTexture *
wzp_qr_code_new_texture (const char  *text,
                         int          module_px,
                         int         *n_modules,
                         GError     **error)
{
  g_autoptr(QRcode) code = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 *pixels;
  int side;
  gsize stride;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (module_px > 0, NULL);

  /* Level M: a code that still reads with a seventh of it smudged, and stays small. */
  code = QRcode_encodeString8bit (text, 0, QR_ECLEVEL_M);
  if (code == NULL)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Could not make a QR code: %s"), g_strerror (saved));
      return NULL;
    }

  side = (code->width + 2 * WZP_QR_CODE_QUIET_ZONE) * module_px;
  stride = (gsize) side * 3;
  pixels = g_malloc (stride * side);
  memset (pixels, 0xff, stride * side);
  for (int y = 0; y < code->width; y++)
    for (int x = 0; x < code->width; x++)
      {
        if ((code->data[y * code->width + x] & 1) == 0)
          continue;
        for (int dy = 0; dy < module_px; dy++)
          {
            guint8 *row = pixels + ((gsize) (y + WZP_QR_CODE_QUIET_ZONE) * module_px + dy) * stride;

            memset (row + (gsize) (x + WZP_QR_CODE_QUIET_ZONE) * module_px * 3, 0,
                    (gsize) module_px * 3);
          }
      }

  if (n_modules != NULL)
    *n_modules = code->width;
  bytes = g_bytes_new_take (pixels, stride * side);
  return gdk_memory_texture_new (side, side, GDK_MEMORY_R8G8B8, bytes, stride);
}
