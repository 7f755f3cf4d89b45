// The cost limit: before a query executes, estimate how many cached objects it would resolve,
// from the real sizes of the collections it touches, and refuse it above --max-cost.
//
// Static weights cannot tell `nodes { pods { name } }` on a 3-node test cluster from the same
// query on a 10k-pod cluster; the caches can. The estimate counts objects of kinds (not scalar
// fields): a connection contributes min(first, objects in its scope) (the scope being the kind,
// or one namespace of it through the namespace index), a list field below an object its average
// fan-out measured from the caches (e.g. Node.pods: cached pods / cached nodes), a single-object
// field 1, each multiplied by how many parents it is resolved for. Averages telescope: a full
// namespaces -> deployments -> replicaSets -> pods topology estimates about the number of pods.
// A subscription is estimated per event: its root field is one event, and what it selects below
// the event's object (a pod's node's pods...) is resolved again for every event delivered.
//
// Each operation is compiled once into a plan (WeakMap on the operation's node, in the parsed
// document yoga caches per query text); each request only evaluates the plan with its variables
// and the current sizes (a few map lookups per field), so the check is cheap. Plans are kept per
// operation found, never per operation name asked: names come from clients, and made-up ones
// (which find no operation and cost nothing) must not grow the cache.
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  GraphQLError,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  valueFromASTUntyped,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ClusterRegistry } from "../clusters/registry.ts";
import { NAMESPACE_INDEX } from "../informers/indexers.ts";
import type { SharedInformer } from "../informers/shared-informer.ts";
import { accessKey, CORE_KINDS } from "../kinds.ts";
import { DEFAULT_FIRST, MAX_FIRST } from "../resolvers/connection.ts";
import { type RequestContext, SEE_EVERYTHING, SEE_NOTHING, type Visibility } from "../resolvers/context.ts";
import { limitExceeded } from "../resolvers/errors.ts";
import type { Gateway } from "../resolvers/gateway.ts";
import { ALL_CLUSTERS, CLUSTER_ARGUMENT } from "../schema/index.ts";
import { type TypedKind, typedKindOf } from "../typed/types.ts";
import { operationOf } from "./operation.ts";

/**
 * Default --max-cost. A full topology of 10,000 pods estimates about 17,000 (deployments ->
 * replica sets -> pods, the benchmark's query) to 73,000 (namespaces -> deployments -> replica
 * sets -> pods with each pod's node, services and events); the default leaves room above that
 * and refuses cross products such as every pod's node's pods (1,000 pods x 500 per node).
 */
export const DEFAULT_MAX_COST = 200_000;

const KIND_BY_TYPE = new Map(CORE_KINDS.map((k) => [k.typeName, k.kind]));
const GENERIC_TYPE = "GenericResource";
const RESOURCE_INTERFACE = "Resource";

/** What the plan reads while it is evaluated. */
interface Env {
  gateway: Gateway;
  variables: Record<string, unknown>;
  /**
   * What the caller may see (with --auth, decided before the estimate): core kinds are sized by
   * the objects it allows, so a caller limited to one namespace is not refused for the whole
   * cluster's size. Without it, everything counts.
   */
  visibility?: Visibility;
  /** Collects the resources(...) informers the estimate reads sizes of (genericInformersIn). */
  consulted?: Set<SharedInformer>;
  /** A subscription's initial state or replay: the objects it starts with (set while evaluated). */
  burst?: number;
  /** Visible objects per core kind, counted once per estimate (with a visibility). */
  visibleSizes?: Map<string, number>;
}

/** One field that resolves objects: how many per parent, and what is selected below it. */
interface Term {
  path: string;
  /** Whether the objects it resolves count (objects of a kind) or only multiply (edges, lists of structs). */
  counts: boolean;
  /** Objects per parent object. */
  items(env: Env): number;
  children: Term[];
  /** A root field: its node, whose cluster argument says which clusters' sizes count. */
  root?: FieldNode;
}

/**
 * Each operation's plan: at most one per operation of a live document, whatever names are sent;
 * per schema, as the schema changes with the typed resources (--resources) while parsed
 * documents are shared.
 */
const planCache = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, Term[]>>();

const NO_TERMS: Term[] = [];

/** Plans compiled so far (each is one planCache entry), for tests. */
export const planStats = { compiled: 0 };

function compileOperation(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null) {
  // No operation (an unknown name, or several operations and none named): execution refuses
  // the request, so nothing to estimate, and nothing kept.
  const operation = operationOf(document, operationName);
  if (!operation) return NO_TERMS;
  let perSchema = planCache.get(schema);
  if (!perSchema) {
    perSchema = new WeakMap();
    planCache.set(schema, perSchema);
  }
  let plan = perSchema.get(operation);
  if (!plan) {
    plan = compile(schema, document, operation);
    perSchema.set(operation, plan);
  }
  return plan;
}

function compile(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): Term[] {
  planStats.compiled++;
  // A mutation's root field is one object, and what it selects below is read from the caches
  // like a query's: estimated the same way, and refused before anything is written.
  const root =
    operation.operation === "query"
      ? schema.getQueryType()
      : operation.operation === "subscription"
        ? schema.getSubscriptionType()
        : schema.getMutationType();
  if (!root) return [];
  const subscription = operation.operation === "subscription";
  // Kind types only (their connections carry the same extension, but count as the core ones do: not at all).
  const typed: TypedLookup = (name) => {
    const k = typedKindOf(schema, name);
    return k?.typeName === name ? k : undefined;
  };
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  }

  const walk = (
    set: SelectionSetNode,
    parent: GraphQLCompositeType,
    parentPath: string,
    // Below a connection, nodes/edges resolve its page: the connection's own arguments.
    connection: ((env: Env) => number) | undefined,
    seen: ReadonlySet<string>,
  ): Term[] => {
    const out: Term[] = [];
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        if (type && isCompositeType(type))
          out.push(...walk(sel.selectionSet, type, parentPath, connection, seen));
      } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const name = sel.name.value;
        const fragment = fragments.get(name);
        if (!fragment || seen.has(name)) continue;
        const type = schema.getType(fragment.typeCondition.name.value);
        if (type && isCompositeType(type))
          out.push(...walk(fragment.selectionSet, type, parentPath, connection, new Set([...seen, name])));
      } else {
        const term = fieldTerm(sel, parent, parentPath, connection, seen);
        if (term) out.push(term);
      }
    }
    return out;
  };

  const fieldTerm = (
    field: FieldNode,
    parent: GraphQLCompositeType,
    parentPath: string,
    connection: ((env: Env) => number) | undefined,
    seen: ReadonlySet<string>,
  ): Term | undefined => {
    if (!field.selectionSet || !("getFields" in parent)) return undefined;
    const def = parent.getFields()[field.name.value];
    if (!def) return undefined;
    const named = getNamedType(def.type);
    if (!isCompositeType(named)) return undefined;
    const path = `${parentPath}${parentPath ? "." : ""}${field.alias?.value ?? field.name.value}`;
    const isList = isListType(getNullableType(def.type));
    const counts =
      KIND_BY_TYPE.has(named.name) ||
      named.name === GENERIC_TYPE ||
      named.name === RESOURCE_INTERFACE ||
      typed(named.name) !== undefined;
    let items: (env: Env) => number;
    let below: ((env: Env) => number) | undefined;
    if (named.name.endsWith("Connection") && "getFields" in named && named.getFields().nodes) {
      // The connection object itself is one; its nodes/edges are the page.
      items = () => 1;
      below = pageEstimate(field, parent === root, named.name.slice(0, -"Connection".length), typed);
    } else if (connection && (field.name.value === "nodes" || field.name.value === "edges")) {
      items = connection;
    } else if (subscription && parent === root) {
      items = eventsPerSubscription(field, named, typed);
    } else if (!isList) {
      items = () => 1;
    } else {
      items = fanOut(parent.name, named.name, parent === root, typed);
    }
    const children = walk(field.selectionSet, named, path, below, seen);
    return { path, counts, items, children, ...(parent === root ? { root: field } : {}) };
  };

  return walk(operation.selectionSet, root, "", undefined, new Set());
}

function intArg(field: FieldNode, name: string, env: Env): number | undefined {
  const v = argValue(field, name, env);
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function stringArg(field: FieldNode, name: string, env: Env): string | undefined {
  const v = argValue(field, name, env);
  return typeof v === "string" ? v : undefined;
}

function argValue(field: FieldNode, name: string, env: Env): unknown {
  const arg = field.arguments?.find((a) => a.name.value === name);
  return arg ? literal(arg.value, env) : undefined;
}

function literal(node: ValueNode, env: Env): unknown {
  switch (node.kind) {
    case Kind.VARIABLE:
      return env.variables[node.name.value];
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    default:
      return undefined;
  }
}

/** The typed resource (--resources) a type of the plan's schema serves. */
type TypedLookup = (typeName: string) => TypedKind | undefined;

/**
 * The informer a field's element type reads: a core kind's, or a typed resource's once started
 * (recorded as consulted: its access is decided before the estimate, as for resources(...)).
 */
function coreInformer(env: Env, typeName: string, typed?: TypedLookup): SharedInformer | undefined {
  const kind = KIND_BY_TYPE.get(typeName);
  if (kind) return env.gateway.informer(kind, false);
  const k = typed?.(typeName);
  if (!k) return undefined;
  const informer = env.gateway.factory.get({ group: k.group, version: k.version, resource: k.resource });
  if (informer) env.consulted?.add(informer);
  return informer;
}

/**
 * The access key of an informer whose access the caller's visibility has decided: the core kinds
 * the operation touches, and the resources(...) decided before the estimate (useCostLimit).
 */
function decidedKind(informer: SharedInformer, env: Env): string | undefined {
  if (!env.visibility?.decides) return undefined;
  const key = accessKey(informer.resource);
  return env.visibility.decides(key) ? key : undefined;
}

/**
 * The informer's objects the caller may see. Core kinds only: the access to other resources
 * (resources(...)) is decided during execution, so they count whole, erring towards refusing.
 */
function visibleSize(informer: SharedInformer, env: Env): number {
  const kind = decidedKind(informer, env);
  const v = env.visibility;
  if (!v || kind === undefined || v.allowsAll(kind)) return informer.store.size;
  env.visibleSizes ??= new Map();
  let n = env.visibleSizes.get(kind);
  if (n === undefined) {
    n = 0;
    if (!v.allowsNothing?.(kind) && informer.store.hasIndex(NAMESPACE_INDEX)) {
      for (const namespace of informer.store.indexValues(NAMESPACE_INDEX))
        if (v.allows(kind, namespace)) n += informer.store.indexKeys(NAMESPACE_INDEX, namespace).size;
    }
    env.visibleSizes.set(kind, n);
  }
  return n;
}

/** The cached informer of resources(group, version, resource), if it has been started. */
function genericInformer(field: FieldNode, env: Env): SharedInformer | undefined {
  const version = stringArg(field, "version", env);
  const resource = stringArg(field, "resource", env);
  if (version === undefined || resource === undefined) return undefined;
  const informer = env.gateway.factory.get({
    group: stringArg(field, "group", env) ?? "",
    version,
    resource,
  });
  if (informer) env.consulted?.add(informer);
  return informer;
}

/** The informer's objects in the field's scope that the caller may see: one namespace's, or the kind's. */
function objectsInScope(informer: SharedInformer, field: FieldNode, env: Env): number {
  const namespace = stringArg(field, "namespace", env);
  if (!namespace || !informer.store.hasIndex(NAMESPACE_INDEX)) return visibleSize(informer, env);
  const kind = decidedKind(informer, env);
  const hidden = kind !== undefined && env.visibility?.allows(kind, namespace) === false;
  return hidden ? 0 : informer.store.indexKeys(NAMESPACE_INDEX, namespace).size;
}

/**
 * Events a subscription resolves its selection for: one per change, plus at once the initial
 * state (initial: true) or a replay (resumeFrom; a RESYNC sends the initial state too), counted
 * as every object of the event's kind in scope (the namespace argument, else the kind).
 * Narrower streams (one node's or one owner's pods) are counted as their namespace's or kind's:
 * the estimate errs towards refusing.
 */
function eventsPerSubscription(field: FieldNode, eventType: GraphQLCompositeType, typed: TypedLookup) {
  const objectType =
    "getFields" in eventType
      ? Object.values(eventType.getFields())
          .map((f) => getNamedType(f.type).name)
          .find((name) => KIND_BY_TYPE.has(name) || name === RESOURCE_INTERFACE || typed(name))
      : undefined;
  return (env: Env): number => {
    const replays = argValue(field, "initial", env) === true || argValue(field, "resumeFrom", env) != null;
    if (!replays || !objectType) return 1;
    const informer =
      objectType === RESOURCE_INTERFACE ? genericInformer(field, env) : coreInformer(env, objectType, typed);
    if (!informer) return 1;
    env.burst = objectsInScope(informer, field, env);
    return 1 + env.burst;
  };
}

/** A connection's page: min(first, objects in scope), scope being one namespace or the kind. */
function pageEstimate(field: FieldNode, atRoot: boolean, elementType: string, typed: TypedLookup) {
  return (env: Env): number => {
    const first = intArg(field, "first", env);
    const page = Math.min(Math.max(first ?? DEFAULT_FIRST, 0), MAX_FIRST);
    if (!atRoot) return page;
    const informer =
      elementType === GENERIC_TYPE ? genericInformer(field, env) : coreInformer(env, elementType, typed);
    return informer ? Math.min(page, objectsInScope(informer, field, env)) : page;
  };
}

/**
 * Objects a list field resolves per parent: at the root, the whole kind (Query.namespaces); below
 * an object of a kind, the average fan-out (cached children / cached parents, rounded up);
 * lists of interface objects (owners, children) and of plain structures count as one each.
 */
function fanOut(parentType: string, elementType: string, atRoot: boolean, typed: TypedLookup) {
  return (env: Env): number => {
    const children = coreInformer(env, elementType, typed);
    if (!children) return 1;
    const total = visibleSize(children, env);
    if (atRoot) return total;
    const parents = coreInformer(env, parentType, typed);
    if (!parents) return Math.min(1, total);
    // Visible children over visible parents: the parents resolved are the visible ones.
    return Math.min(total, Math.ceil(total / Math.max(1, visibleSize(parents, env))));
  };
}

export interface CostEstimate {
  cost: number;
  /** For a subscription with initial or resumeFrom: the objects of the burst it starts with. */
  burst?: number;
  /** The top-level field that contributes most, for the error message. */
  heaviest?: { path: string; cost: number };
}

function evaluate(terms: Term[], env: Env, multiplier: number): number {
  let cost = 0;
  for (const t of terms) {
    const n = multiplier * t.items(env);
    if (n === 0) continue;
    if (t.counts) cost += n;
    cost += evaluate(t.children, env, n);
  }
  return cost;
}

/**
 * The request's variables with the operation's defaults for those it leaves out: a
 * `query($n: Int = 1000)` sent without variables pages by 1000, and must be estimated so.
 */
function withDefaults(
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out = { ...variables };
  for (const def of operationOf(document, operationName)?.variableDefinitions ?? []) {
    const name = def.variable.name.value;
    if (out[name] === undefined && def.defaultValue) out[name] = valueFromASTUntyped(def.defaultValue);
  }
  return out;
}

/** The clusters a root field reads (its cluster argument; "*": all of them). */
function gatewaysOf(
  root: FieldNode | undefined,
  env: Env,
  gateway: Gateway,
  clusters?: ClusterRegistry,
): Gateway[] {
  const name = clusters && root ? stringArg(root, CLUSTER_ARGUMENT, env) : undefined;
  if (name === undefined) return [gateway];
  return name === ALL_CLUSTERS ? clusters!.all() : [clusters!.get(name) ?? gateway];
}

/**
 * The cached informers of the resources(...) fields an operation reads sizes of, with the
 * cluster (gateway) each is read in.
 */
function genericInformersIn(
  gateway: Gateway,
  args: ExecutionArgs,
  clusters?: ClusterRegistry,
): [Gateway, SharedInformer][] {
  const plan = compileOperation(args.schema, args.document, args.operationName);
  const env: Env = {
    gateway,
    variables: withDefaults(
      args.document,
      args.operationName,
      args.variableValues as Record<string, unknown>,
    ),
  };
  const out: [Gateway, SharedInformer][] = [];
  for (const t of plan) {
    for (const g of gatewaysOf(t.root, env, gateway, clusters)) {
      env.gateway = g;
      env.consulted = new Set();
      evaluate([t], env, 1);
      for (const informer of env.consulted) out.push([g, informer]);
    }
  }
  return out;
}

/**
 * The estimated number of cached objects a query resolves, or a subscription resolves per event
 * (0 for unknown operations).
 */
export function estimateCost(
  gateway: Gateway,
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
  /** The caller's visibility, or each cluster's (with --auth, several clusters decide apart). */
  visibility?: Visibility | ((gateway: Gateway) => Visibility | undefined),
  clusters?: ClusterRegistry,
): CostEstimate {
  const plan = compileOperation(schema, document, operationName);
  const visibilityIn = (g: Gateway) => (typeof visibility === "function" ? visibility(g) : visibility);
  const env: Env = {
    gateway,
    variables: withDefaults(document, operationName, variables),
    visibility: visibilityIn(gateway),
  };
  let cost = 0;
  let heaviest: CostEstimate["heaviest"];
  for (const t of plan) {
    // Sized by the caches of the cluster the root field reads; cluster: "*" by all of them.
    const gateways = gatewaysOf(t.root, env, gateway, clusters);
    let c = 0;
    for (const g of gateways) {
      env.gateway = g;
      env.visibility = visibilityIn(g);
      env.visibleSizes = undefined;
      c += evaluate([t], env, 1);
    }
    env.gateway = gateway;
    env.visibility = visibilityIn(gateway);
    env.visibleSizes = undefined;
    cost += c;
    if (!heaviest || c > heaviest.cost) heaviest = { path: t.path, cost: c };
  }
  return { cost, heaviest, ...(env.burst !== undefined ? { burst: env.burst } : {}) };
}

export function costLimitError(estimate: CostEstimate, max: number, subscription = false): GraphQLError {
  const where = estimate.heaviest
    ? `; most of it is ${estimate.heaviest.path} (${estimate.heaviest.cost})`
    : "";
  const explained =
    "The estimate counts the objects it would resolve, from the sizes of the cached collections: ";
  // A subscription's root field is one event: its cost is (1 + burst) times one event's.
  const perEvent = Math.round(estimate.cost / (1 + (estimate.burst ?? 0)));
  const message = !subscription
    ? `query too expensive: its estimated cost of ${estimate.cost} exceeds the limit of ${max} (maxCost)${where}. ` +
      `${explained}ask for smaller pages (first), narrow by namespace, select fewer nested lists, or split the query`
    : !estimate.burst || perEvent > max
      ? `subscription too expensive: each event's estimated cost of ${perEvent} exceeds the limit of ${max} (maxCost)${where}. ` +
        `${explained}select fewer nested lists, or narrow the stream (namespace, selectors)`
      : `subscription too expensive: its estimated cost of ${estimate.cost} (each event's selection, for the ${estimate.burst} ` +
        `objects it starts with (initial or resumeFrom) and each change after them) exceeds the limit of ${max} (maxCost)${where}. ` +
        `${explained}select fewer nested lists, narrow the stream (namespace, selectors), or start without initial`;
  return limitExceeded(message, "maxCost", max, { cost: estimate.cost });
}

/**
 * The caller's visibility, to size core kinds by, when it is a decided, partial one. Without
 * --auth (everything visible) and before authorization (nothing visible yet) there is none to
 * apply: everything counts.
 */
function restrictedVisibility(contextValue: unknown, cluster?: string): Visibility | undefined {
  const ctx = contextValue as Partial<RequestContext>;
  const access = (cluster !== undefined ? ctx.clusterAccess?.get(cluster) : undefined) ?? ctx.access;
  return restricted(access?.visibility);
}

/** A visibility decided per caller; undefined for everything (no --auth) or nothing (refused). */
function restricted(v: Visibility | undefined): Visibility | undefined {
  return v === SEE_EVERYTHING || v === SEE_NOTHING ? undefined : v;
}

/**
 * Refuses queries, and subscriptions per event, whose estimated cost exceeds `max`, before any
 * execution or stream. After authorization (with --auth): the core kinds are sized by what the
 * caller may see (its access decisions are cached, so a refused query costs no new reviews
 * when repeated).
 */
export function useCostLimit(gateway: Gateway, max: number, clusters?: ClusterRegistry): Plugin {
  const check = (args: ExecutionArgs, subscription: boolean, eventOnly = false): GraphQLError | undefined => {
    const whole = estimateCost(
      gateway,
      args.schema,
      args.document,
      args.variableValues as Record<string, unknown> | undefined,
      args.operationName,
      // Each cluster's own decisions (several clusters with --auth), else the request's.
      (g) => restrictedVisibility(args.contextValue, g.cluster),
      clusters,
    );
    // One event's share of a subscription's estimate (its root field is one event).
    const estimate =
      eventOnly && whole.burst !== undefined
        ? { cost: Math.round(whole.cost / (1 + whole.burst)), heaviest: whole.heaviest }
        : whole;
    return estimate.cost > max ? costLimitError(estimate, max, subscription) : undefined;
  };
  /**
   * A restricted caller's access to the resources(...) it reads, decided now rather than during
   * execution: sized whole, their counts would show in the refusal (and in whether it is
   * refused) for namespaces the caller may not list. A review that fails is the answer.
   */
  const decideResources = async (
    args: ExecutionArgs,
    stop: (result: ExecutionResult) => void,
  ): Promise<boolean> => {
    const ctx = args.contextValue as Partial<RequestContext>;
    // Only a restricted caller has anything to decide: without --auth (or with a cluster-wide
    // view) the plan is not evaluated a second time here.
    const accesses = [ctx.access, ...(ctx.clusterAccess?.values() ?? [])];
    if (!accesses.some((a) => a?.authorizeResource && restricted(a.visibility))) return true;
    try {
      for (const [g, informer] of genericInformersIn(gateway, args, clusters)) {
        // Each cluster's own access (several clusters with --auth decide apart).
        const access = ctx.clusterAccess?.get(g.cluster) ?? ctx.access;
        if (!access?.authorizeResource || !restrictedVisibility(args.contextValue, g.cluster)) continue;
        await access.authorizeResource(informer.resource);
      }
      return true;
    } catch (err) {
      if (!(err instanceof GraphQLError)) throw err;
      stop({ errors: [err] });
      return false;
    }
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      if (!(await decideResources(args, setResultAndStopExecution))) return;
      const error = check(args, false);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      if (!(await decideResources(args, setResultAndStopExecution))) return;
      const error = check(args, true);
      if (error) {
        setResultAndStopExecution({ errors: [error] });
        return;
      }
      // Re-decided permissions can widen what each event resolves: the stream checks its events'
      // cost again then (its initial burst is past, so it counts one event).
      const ctx = args.contextValue as Partial<RequestContext>;
      for (const access of [ctx.access, ...(ctx.clusterAccess?.values() ?? [])])
        if (access?.refresh) access.recheckCost = () => check(args, true, true);
    },
  };
}
