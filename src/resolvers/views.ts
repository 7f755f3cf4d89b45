// Objects as GraphQL sees them: a view pairs a cached object with the request's context, and
// each kind's scalar fields are getters on its view's prototype.
//
// Why: graphql-jit inlines a field without a resolver into a plain property read, but calls a
// field with a resolver through a generic runtime (a path object, a resolve-info object, two
// closures and a promise check per call): about 0.3 µs each, some 15 ms for five fields of
// 10,000 pods. Getters keep the field code as simple functions of (object, context) and cost one
// property read. The views are per request (they carry its context), allocated only for the
// objects a query returns, and never copy the cached object.
//
// The field functions are the same tables as before (fields.ts, common.ts): installViews turns
// them into getters (scalar fields without arguments) or resolvers on the view (the others),
// and makes every other field that returns a kind (Query.pod, PodEvent.pod, XConnection.nodes,
// ...) hand out views. A kind field without a function is a startup error, not a null at runtime.
import {
  type GraphQLField,
  type GraphQLFieldResolver,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isLeafType,
} from "graphql";
import { CLUSTER } from "../informers/cluster-tag.ts";
import type { KubeObject } from "../informers/types.ts";
import { CORE_KINDS } from "../kinds.ts";
import type { RequestContext } from "./context.ts";

/** A field's value from the cached object (and, for traversals, the request's context). */
export type FieldFn = (obj: KubeObject, args: Record<string, unknown>, ctx: RequestContext) => unknown;

/**
 * The base of every view: `o` is the cached object, `c` the request's context. The per-type
 * subclasses are generated (see viewClass) and set both.
 */
export class View {
  declare readonly o: KubeObject;
  declare readonly c: RequestContext;
  /** The GraphQL type of this view. */
  declare readonly typeName: string;
}

interface ViewClass {
  new (o: KubeObject, c: RequestContext): View;
  /** The view of a value (null and views pass through). */
  wrap(v: unknown, c: RequestContext): unknown;
  /** Views of every element of an array. */
  wrapList(v: unknown, c: RequestContext): unknown;
  /**
   * The same, each in its object's own cluster (cluster-tag.ts): for fields outside the view
   * types (root fields, connections, events), whose objects may come from any cluster. Fields
   * of a view stay in the view's cluster, so they use wrap/wrapList.
   */
  wrapAt(v: unknown, c: RequestContext): unknown;
  wrapListAt(v: unknown, c: RequestContext): unknown;
}

/** Names a generated view class uses itself, which no GraphQL field may have. */
export const VIEW_RESERVED_NAMES: ReadonlySet<string> = new Set([
  "o",
  "c",
  "typeName",
  "constructor",
  "wrap",
  "wrapList",
  "wrapAt",
  "wrapListAt",
  "prototype",
]);

/**
 * A view class for one type, generated as code: V8 keeps type feedback per piece of code, and
 * shared getters or constructors would see every kind's objects and go megamorphic (several
 * times slower). Field names are GraphQL names ([_A-Za-z][_0-9A-Za-z]*), safe to embed.
 */
function viewClass(typeName: string, getters: [string, FieldFn][]): ViewClass {
  for (const [name] of getters) {
    if (VIEW_RESERVED_NAMES.has(name) || !/^[_A-Za-z][_0-9A-Za-z]*$/.test(name))
      throw new Error(`field name ${typeName}.${name} cannot be a view getter`);
  }
  const code = `"use strict";
return class ${typeName}View extends View {
  constructor(o, c) { super(); this.o = o; this.c = c; }
  get typeName() { return ${JSON.stringify(typeName)}; }
${getters.map(([name], i) => `  get ${name}() { return fns[${i}](this.o, NO_ARGS, this.c); }`).join("\n")}
  static wrap(v, c) { return v === null || v === undefined || v instanceof View ? v : new this(v, c); }
  static wrapList(v, c) {
    if (!Array.isArray(v)) return v;
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      out[i] = x === null || x === undefined || x instanceof View ? x : new this(x, c);
    }
    return out;
  }
  static wrapAt(v, c) {
    if (v === null || v === undefined || v instanceof View) return v;
    const t = v[TAG];
    return new this(v, t === undefined ? c : c.inCluster(t));
  }
  static wrapListAt(v, c) {
    if (!Array.isArray(v)) return v;
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x === null || x === undefined || x instanceof View) out[i] = x;
      else {
        const t = x[TAG];
        out[i] = new this(x, t === undefined ? c : c.inCluster(t));
      }
    }
    return out;
  }
};`;
  // Generated from GraphQL field names only (checked above).
  return new Function("View", "fns", "NO_ARGS", "TAG", code)(
    View,
    getters.map((g) => g[1]),
    NO_ARGS,
    CLUSTER,
  ) as ViewClass;
}

/** The interface every kind implements and the type of objects of any other kind. */
export const RESOURCE_INTERFACE = "Resource";
export const GENERIC_TYPE = "GenericResource";

const NO_ARGS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** Core kinds by "apiVersion kind": a CRD may reuse a core kind's name in another group. */
const coreTypeByApiKind = new Map(
  CORE_KINDS.map((k) => [`${k.group ? `${k.group}/${k.version}` : k.version} ${k.kind}`, k.typeName]),
);

/** The GraphQL type for an object: its core kind's type, a typed resource's, or GenericResource. */
export function typeNameOf(obj: KubeObject, typed?: ReadonlyMap<string, string>): string {
  const key = `${obj.apiVersion} ${obj.kind}`;
  return coreTypeByApiKind.get(key) ?? typed?.get(key) ?? GENERIC_TYPE;
}

/**
 * Turns the field functions of the view types (every core kind and GenericResource) into
 * getters and resolvers on `schema`, and wraps every other field returning one of them.
 */
export function installViews(
  schema: GraphQLSchema,
  fields: Record<string, Record<string, FieldFn>>,
  /** Typed resources' types (--resources), by "apiVersion kind". */
  typed: ReadonlyMap<string, string> = new Map(),
): void {
  const viewTypes = [...CORE_KINDS.map((k) => k.typeName), ...typed.values(), GENERIC_TYPE];
  const objectType = (name: string): GraphQLObjectType => {
    const type = schema.getType(name);
    if (!(type instanceof GraphQLObjectType)) throw new Error(`schema has no object type ${name}`);
    return type;
  };
  const fieldFn = (typeName: string, field: string): FieldFn => {
    const fn = fields[typeName]?.[field];
    if (!fn) throw new Error(`no field function for ${typeName}.${field}`);
    return fn;
  };
  // Scalar fields without arguments are getters: graphql-jit reads them as properties, with no
  // resolver call. Object and list fields stay resolvers (called once per parent): the compiled
  // code reads such a field several times (null, error and iterable checks).
  const isGetter = (f: GraphQLField<unknown, unknown>) =>
    f.args.length === 0 && isLeafType(getNamedType(f.type));

  const classes = new Map<string, ViewClass>();
  for (const typeName of viewTypes) {
    const getters = Object.values(objectType(typeName).getFields())
      .filter(isGetter)
      .map((f) => [f.name, fieldFn(typeName, f.name)] as [string, FieldFn]);
    classes.set(typeName, viewClass(typeName, getters));
  }

  /** The view of an object of any kind (views pass through). */
  const toView = (value: unknown, ctx: RequestContext): unknown => {
    if (value === null || value === undefined || value instanceof View) return value;
    return classes.get(typeNameOf(value as KubeObject, typed))!.wrap(value, ctx);
  };
  const toViews = (value: unknown, ctx: RequestContext): unknown =>
    Array.isArray(value) ? value.map((v) => toView(v, ctx)) : value;
  /** The same, in each object's own cluster. */
  const toViewAt = (value: unknown, ctx: RequestContext): unknown => {
    if (value === null || value === undefined || value instanceof View) return value;
    return classes.get(typeNameOf(value as KubeObject, typed))!.wrapAt(value, ctx);
  };
  const toViewsAt = (value: unknown, ctx: RequestContext): unknown =>
    Array.isArray(value) ? value.map((v) => toViewAt(v, ctx)) : value;

  /**
   * How a field's value becomes what GraphQL expects: views for kind-typed values; `anyCluster`
   * for fields outside the view types, whose objects are resolved in their own cluster.
   */
  function outputFor(
    type: GraphQLOutputType,
    anyCluster: boolean,
  ): ((v: unknown, ctx: RequestContext) => unknown) | undefined {
    const named = getNamedType(type).name;
    const list = (type instanceof GraphQLNonNull ? type.ofType : type) instanceof GraphQLList;
    // A concrete type (GenericResource included: resources(...) serves even core kinds as
    // GenericResource), or the interface, whose concrete type comes from the object.
    const cls = classes.get(named);
    if (cls && anyCluster) return list ? (v, c) => cls.wrapListAt(v, c) : (v, c) => cls.wrapAt(v, c);
    if (cls) return list ? (v, c) => cls.wrapList(v, c) : (v, c) => cls.wrap(v, c);
    if (named === RESOURCE_INTERFACE && anyCluster) return list ? toViewsAt : toViewAt;
    if (named === RESOURCE_INTERFACE) return list ? toViews : toView;
    return undefined;
  }

  for (const typeName of viewTypes) {
    for (const field of Object.values(objectType(typeName).getFields())) {
      if (isGetter(field)) {
        field.resolve = undefined;
        continue;
      }
      const fn = fieldFn(typeName, field.name);
      const out = outputFor(field.type, false);
      field.resolve = out
        ? (view: View, args: Record<string, unknown>) => out(fn(view.o, args, view.c), view.c)
        : (view: View, args: Record<string, unknown>) => fn(view.o, args, view.c);
    }
  }

  // Every other field that returns a kind: wrap what it returns (or the property it reads).
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || type.name.startsWith("__") || classes.has(type.name))
      continue;
    for (const field of Object.values(type.getFields())) {
      const out = outputFor(field.type, true);
      if (out) wrapResolver(field, out);
    }
  }

  const resource = schema.getType(RESOURCE_INTERFACE);
  if (!(resource instanceof GraphQLInterfaceType)) throw new Error("schema has no Resource interface");
  resource.resolveType = (view: View) => view.typeName;
}

function wrapResolver(
  field: GraphQLField<unknown, RequestContext>,
  out: (v: unknown, ctx: RequestContext) => unknown,
): void {
  const inner = field.resolve;
  const name = field.name;
  const resolve: GraphQLFieldResolver<unknown, RequestContext> = inner
    ? (source, args, ctx, info) => {
        const value = inner(source, args, ctx, info);
        return isThenable(value) ? value.then((v) => out(v, ctx)) : out(value, ctx);
      }
    : (source, _args, ctx) => out((source as Record<string, unknown>)[name], ctx);
  field.resolve = resolve;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}
