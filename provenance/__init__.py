"""Provenance: C2PA Content Credentials (sign + validate) and our invisible video/audio watermark.

Entry points (the gate calls these; nothing here imports gate or api):
- provenance.certs: SignerMaterial, ensure_dev_signer, load_signer, callback_signer
- provenance.c2pa_sign: sign_video, available, C2PA_VERSION
- provenance.c2pa_read: read_credentials
- provenance.watermark: embed_clip, detect_clip, detect_image, add_visible_mark, available,
  WATERMARK_VERSION, WATERMARK_ALG (embed takes the installation's current key, detect its whole ring)
- provenance.wm_keys: WatermarkKey, Keyring, parse_keyring, ensure_keyring_file, rotate_keyring_file
- provenance.errors: ProvenanceError (ValueError) for every bad-input case
"""
