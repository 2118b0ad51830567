// JSON values: what specs, checkpoint metadata and hyperparameters are made of (so a
// model, an optimizer or a run can be written to a file and rebuilt from it).

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue }
